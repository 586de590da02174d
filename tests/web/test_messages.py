"""The screens' messages, without a browser: every language has every key and no other,
and every key the pages and scripts use exists.

The convention the screens follow, strict enough to be checked here:

- HTML marks a translated element with ``data-i18n="key"``; its text in the page is the
  English message (what shows before the script runs);
- scripts translate with ``t("key")`` or, for a family of keys picked at run time,
  ``t(`prefix.${expression}`)`` (one interpolation, at the end, after a dot); any other
  argument to ``t(`` is refused, as is setting ``data-i18n`` from a script."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from web.pages import ASSETS, messages, render_page

MESSAGES = ASSETS / "messages"
PAGES = sorted(ASSETS.glob("*.html"))
SCRIPTS = sorted(ASSETS.glob("*.js"))
KEY = re.compile(r"^[a-z][A-Za-z]*(\.[A-Za-z0-9_]+)+$")
# A call of t( that is not a method call nor the function's own definition.
CALL = re.compile(r"(?<![\w.$])(?<!function )t\(")
LITERAL = re.compile(r'"([^"\\]*)"\s*[,)]')
FAMILY = re.compile(r"`([a-z][A-Za-z]*(?:\.[A-Za-z0-9_]+)*\.)\$\{[^`{}]+\}`\s*[,)]")
# The one call whose key comes from the page: the data-i18n attributes, checked below.
FROM_THE_PAGE = "t(element.dataset.i18n)"
PLACEHOLDER = re.compile(r"\{(\w+)\}")


class _Page(HTMLParser):
    """The data-i18n keys of a page with the text of their elements, and the languages
    its language picker offers."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[tuple[str, str]] = []
        self.options: list[str] = []
        self._open: list[tuple[str, str, list[str]]] = []  # (tag, key, text)
        self._in_picker = False
        self.messages_block: list[str] | None = None
        self._in_block = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if self._open:
            # a translated element holds text only: its text is replaced as a whole
            self._open[-1][2].append(f"<{tag}>")
        key = attributes.get("data-i18n")
        if key is not None:
            self._open.append((tag, key, []))
        if tag == "select" and attributes.get("id") == "language":
            self._in_picker = True
        if tag == "option" and self._in_picker:
            self.options.append(attributes.get("value") or "")
        if tag == "script" and attributes.get("id") == "messages":
            self._in_block = True
            self.messages_block = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._in_picker = False
        if tag == "script":
            self._in_block = False
        if self._open and self._open[-1][0] == tag:
            _, key, text = self._open.pop()
            self.keys.append((key, " ".join("".join(text).split())))

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1][2].append(data)
        if self._in_block and self.messages_block is not None:
            self.messages_block.append(data)


def _parsed(text: str) -> _Page:
    parser = _Page()
    parser.feed(text)
    parser.close()
    return parser


def _script_keys(path: Path) -> tuple[set[str], set[str], list[str]]:
    """The literal keys, the key families (prefixes) and the calls this test cannot read."""
    text = path.read_text(encoding="utf-8")
    literal: set[str] = set()
    families: set[str] = set()
    unreadable: list[str] = []
    for call in CALL.finditer(text):
        rest = text[call.end() :]
        if text[call.start() :].startswith(FROM_THE_PAGE):
            continue
        if match := LITERAL.match(rest):
            literal.add(match.group(1))
        elif match := FAMILY.match(rest):
            families.add(match.group(1))
        else:
            line = text.count("\n", 0, call.start()) + 1
            unreadable.append(f"{path.name}:{line}: {text[call.start() :].splitlines()[0]}")
    return literal, families, unreadable


def test_there_are_languages_and_every_file_is_a_flat_list_of_texts() -> None:
    languages = messages()
    assert "en" in languages, "English is every screen's fallback"
    assert set(languages) == {p.stem for p in MESSAGES.iterdir()}, "only .json files there"
    for language, texts in languages.items():
        assert isinstance(texts, dict), language
        for key, text in texts.items():
            assert KEY.match(key), f"{language}: {key!r} is not a key"
            assert isinstance(text, str) and text.strip(), f"{language}: {key} has no text"


@pytest.mark.parametrize("language", sorted(messages()))
def test_every_language_has_every_key_and_no_other(language: str) -> None:
    languages = messages()
    english, texts = set(languages["en"]), set(languages[language])
    assert sorted(english - texts) == [], f"missing in {language}.json"
    assert sorted(texts - english) == [], f"only in {language}.json"
    for key in english:
        wanted = set(PLACEHOLDER.findall(languages["en"][key]))
        assert set(PLACEHOLDER.findall(languages[language][key])) == wanted, key


def test_every_key_the_scripts_use_exists() -> None:
    english = set(messages()["en"])
    missing, unreadable = [], []
    for path in SCRIPTS:
        literal, families, cannot_read = _script_keys(path)
        unreadable += cannot_read
        missing += [f"{path.name}: {key}" for key in sorted(literal - english)]
        missing += [
            f"{path.name}: {prefix}*"
            for prefix in sorted(families)
            if not any(key.startswith(prefix) for key in english)
        ]
        text = path.read_text(encoding="utf-8")
        assert "dataset.i18n =" not in text and '"data-i18n"' not in text, path.name
        for imported in re.findall(r"import \{([^}]*)\} from \"\./i18n\.js\"", text):
            assert " as " not in imported, f"{path.name}: t is called t"
    assert unreadable == [], 'keys this test cannot read: use t("key") or t(`prefix.${x}`)'
    assert missing == []


def test_every_key_the_pages_use_exists_with_its_english_text() -> None:
    english = messages()["en"]
    for path in PAGES:
        page = _parsed(path.read_text(encoding="utf-8"))
        assert page.keys, f"{path.name} marks no text with data-i18n"
        for key, text in page.keys:
            assert key in english, f"{path.name}: {key}"
            assert text == english[key], f"{path.name}: {key} reads {text!r} in the page"


def test_every_key_is_used() -> None:
    used: set[str] = set()
    families: set[str] = set()
    for path in SCRIPTS:
        literal, prefixes, _ = _script_keys(path)
        used |= literal
        families |= prefixes
    for path in PAGES:
        used |= {key for key, _ in _parsed(path.read_text(encoding="utf-8")).keys}
    unused = [
        key
        for key in messages()["en"]
        if key not in used and not any(key.startswith(prefix) for prefix in families)
    ]
    assert unused == []


@pytest.mark.parametrize("page", [p.name for p in PAGES])
def test_each_page_carries_every_language_and_offers_each(page: str) -> None:
    rendered = _parsed(render_page(page))
    assert rendered.messages_block is not None, f"{page} has no {{{{messages}}}}"
    block = "".join(rendered.messages_block)
    assert "<" not in block and "&" not in block
    assert json.loads(block) == messages()
    assert sorted(rendered.options) == sorted(messages()), "the language picker"
