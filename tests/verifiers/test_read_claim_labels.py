"""Reading claim labels from SD-JWT VC Type Metadata (§5) through the real outbound client
from a real HTTP publisher on loopback (named as the deployment's own origin, the one
non-https origin labels are read from): extends (§5.4, §5.6.5), integrity (§6), the
fetch rules (§3, §5.3), caching (§5.3.4), and every way a document can be unusable, which
always ends in no labels, never in an error."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from core.http.client import OutboundClient
from core.sdjwt_vc.type_metadata import MAX_TYPE_METADATA_BYTES
from verifiers.services.read_claim_labels import MAX_TYPE_CHAIN, ClaimLabels


class Publisher:
    """Documents by path: (status, content type, body, Cache-Control); requests counted."""

    def __init__(self) -> None:
        self.documents: dict[str, tuple[int, str, bytes, str | None]] = {}
        self.hits: Counter[str] = Counter()
        self.origin = ""

    def url(self, path: str) -> str:
        return f"{self.origin}{path}"

    def publish(
        self,
        path: str,
        document: Any,
        *,
        status: int = 200,
        content_type: str = "application/json",
        cache_control: str | None = None,
    ) -> bytes:
        body = document if isinstance(document, bytes) else json.dumps(document).encode()
        self.documents[path] = (status, content_type, body, cache_control)
        return body


@pytest.fixture
def publisher() -> Iterator[Publisher]:
    published = Publisher()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            published.hits[self.path] += 1
            status, content_type, body, cache_control = published.documents.get(
                self.path, (404, "application/json", b'{"error": "not found"}', None)
            )
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if cache_control is not None:
                self.send_header("Cache-Control", cache_control)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    published.origin = f"http://127.0.0.1:{server.server_address[1]}"
    yield published
    server.shutdown()


@pytest.fixture
async def reader(publisher: Publisher) -> AsyncIterator[ClaimLabels]:
    outbound = OutboundClient(exceptions=[publisher.origin.removeprefix("http://")], timeout=5)
    yield ClaimLabels(outbound, own_origin=publisher.origin)
    await outbound.close()


def _labels(entries: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, str]]:
    return {tuple(e["path"]): {d["locale"]: d["label"] for d in e["display"]} for e in entries}


def _integrity(body: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}-{base64.b64encode(hashlib.new(algorithm, body).digest()).decode()}"


AGE_TYPE = {
    "claims": [
        {
            "path": ["age_over_18"],
            "display": [
                {"locale": "en", "label": "Aged 18 or over"},
                {"locale": "de", "label": "Volljährig"},
            ],
        },
        {"path": ["given_name"], "display": [{"locale": "en", "label": "Given name"}]},
        {"path": ["birthdate"], "sd": "always"},
    ]
}


async def test_only_the_proven_claims_get_labels(publisher: Publisher, reader: ClaimLabels) -> None:
    vct = publisher.url("/types/age")
    publisher.publish("/types/age", {"vct": vct, **AGE_TYPE})
    labels = await reader.labels(vct, None, {"age_over_18": True, "birthdate": "2000-01-01"})
    assert _labels(labels) == {("age_over_18",): {"en": "Aged 18 or over", "de": "Volljährig"}}


async def test_extends_inherits_and_overrides_claim_display(
    publisher: Publisher, reader: ClaimLabels
) -> None:
    """The example of §5.6.5.2 (Figures 20 to 22), served over HTTP."""
    base, custom = publisher.url("/base-type-metadata"), publisher.url("/custom-type-metadata")
    base_body = publisher.publish(
        "/base-type-metadata",
        {
            "vct": base,
            "claims": [
                {"path": ["name"], "display": [{"label": "Full Name", "locale": "en"}]},
                {"path": ["address", "city"], "display": [{"label": "City", "locale": "en"}]},
            ],
        },
    )
    publisher.publish(
        "/custom-type-metadata",
        {
            "vct": custom,
            "extends": base,
            "extends#integrity": _integrity(base_body, "sha512"),
            "claims": [
                {"path": ["address", "city"], "display": [{"label": "Town", "locale": "en"}]},
                {
                    "path": ["nationalities"],
                    "display": [{"label": "Nationalities", "locale": "en"}],
                },
            ],
        },
    )
    proven = {"name": "Arthur Dent", "address": {"city": "Milliways"}, "nationalities": ["GB"]}
    assert _labels(await reader.labels(custom, None, proven)) == {
        ("name",): {"en": "Full Name"},
        ("address", "city"): {"en": "Town"},
        ("nationalities",): {"en": "Nationalities"},
    }


async def test_array_paths_select_the_proven_elements(
    publisher: Publisher, reader: ClaimLabels
) -> None:
    vct = publisher.url("/types/licence")
    publisher.publish(
        "/types/licence",
        {
            "vct": vct,
            "claims": [
                {"path": ["privileges"], "display": [{"locale": "en", "label": "Privileges"}]},
                {
                    "path": ["privileges", None, "category"],
                    "display": [{"locale": "en", "label": "Category"}],
                },
                {"path": ["privileges", 3], "display": [{"locale": "en", "label": "Fourth"}]},
            ],
        },
    )
    proven = {"privileges": [{"category": "B"}, {"category": "AM"}]}
    assert set(_labels(await reader.labels(vct, None, proven))) == {
        ("privileges",),
        ("privileges", None, "category"),
    }


def _unusable_cases(publisher: Publisher) -> dict[str, tuple[str, object]]:
    """Each a ``vct`` (and its ``vct#integrity``) whose Type Metadata cannot be used."""
    url = publisher.url

    def typed(path: str, **members: Any) -> str:
        publisher.publish(path, {"vct": url(path), **AGE_TYPE, **members})
        return url(path)

    good = typed("/types/good")
    good_body = publisher.documents["/types/good"][2]
    publisher.publish("/types/html", b"<html></html>", content_type="text/html")
    publisher.publish("/types/error", {"vct": url("/types/error"), **AGE_TYPE}, status=500)
    publisher.publish("/types/duplicate", b'{"vct": "a", "vct": "b"}')
    publisher.publish("/types/nan", b'{"vct": NaN}')
    publisher.publish("/types/array", [url("/types/array")])
    publisher.publish("/types/huge", b" " * MAX_TYPE_METADATA_BYTES + b"{}")
    typed("/types/other-vct", vct="https://elsewhere.example/type")
    typed("/types/bad-path", claims=[{"path": [], "display": []}])
    typed("/types/bad-display", claims=[{"path": ["age_over_18"], "display": [{"locale": "en"}]}])
    typed("/types/loop-a", extends=url("/types/loop-b"))
    typed("/types/loop-b", extends=url("/types/loop-a"))
    for hop in range(MAX_TYPE_CHAIN + 1):
        typed(f"/types/chain-{hop}", extends=url(f"/types/chain-{hop + 1}"))
    typed(f"/types/chain-{MAX_TYPE_CHAIN + 1}")
    typed("/types/extends-missing", extends=url("/types/nowhere"))
    typed("/types/extends-http", extends=url("/types/good").replace("127.0.0.1", "localhost"))
    typed(
        "/types/extends-tampered",
        extends=good,
        **{"extends#integrity": _integrity(good_body + b" ")},
    )
    return {
        "not found": (url("/types/missing"), None),
        "server error": (url("/types/error"), None),
        "not JSON": (url("/types/html"), None),
        "duplicate members": (url("/types/duplicate"), None),
        "NaN": (url("/types/nan"), None),
        "not an object": (url("/types/array"), None),
        "too large": (url("/types/huge"), None),
        "another vct": (url("/types/other-vct"), None),
        "malformed claim path": (url("/types/bad-path"), None),
        "display without label": (url("/types/bad-display"), None),
        "extends in a circle": (url("/types/loop-a"), None),
        "extends too far": (url("/types/chain-0"), None),
        "extends to nothing": (url("/types/extends-missing"), None),
        "extends to plain http elsewhere": (url("/types/extends-http"), None),
        "extends#integrity mismatch": (url("/types/extends-tampered"), None),
        "vct#integrity mismatch": (good, _integrity(b"{}")),
        "vct#integrity unsupported algorithm": (good, "md5-" + "A" * 22 + "=="),
        "vct#integrity weaker hash ignored": (
            good,
            f"{_integrity(good_body)} {_integrity(b'{}', 'sha384')}",
        ),
        "vct#integrity not a string": (good, ["sha256-x"]),
        "vct is not a URL": ("urn:eudi:pid:1", None),
        "plain http elsewhere": (good.replace("127.0.0.1", "localhost"), None),
        "https to an inward address": ("https://127.0.0.1/types/good", None),
        "https to a metadata service": ("https://169.254.169.254/latest/meta-data", None),
    }


async def test_unusable_type_metadata_gives_no_labels_and_no_error(
    publisher: Publisher, reader: ClaimLabels
) -> None:
    for case, (vct, integrity) in _unusable_cases(publisher).items():
        labels = await reader.labels(vct, integrity, {"age_over_18": True})
        assert labels == [], case
    # fetched once and cached, whatever the integrity said; never through another origin
    assert publisher.hits["/types/good"] == 1
    assert publisher.hits[f"/types/chain-{MAX_TYPE_CHAIN}"] == 0  # never fetched that far


async def test_the_matching_vct_integrity_gives_labels(
    publisher: Publisher, reader: ClaimLabels
) -> None:
    vct = publisher.url("/types/age")
    body = publisher.publish("/types/age", {"vct": vct, **AGE_TYPE})
    for integrity in (
        _integrity(body),
        f"{_integrity(b'old', 'sha256')} {_integrity(body, 'sha384')}?opt",
    ):
        labels = await reader.labels(vct, integrity, {"age_over_18": True})
        assert _labels(labels)[("age_over_18",)]["de"] == "Volljährig", integrity


async def test_documents_are_cached_as_http_caching_allows(
    publisher: Publisher, reader: ClaimLabels
) -> None:
    cached, uncached = publisher.url("/types/cached"), publisher.url("/types/uncached")
    publisher.publish("/types/cached", {"vct": cached, **AGE_TYPE}, cache_control="max-age=60")
    publisher.publish("/types/uncached", {"vct": uncached, **AGE_TYPE}, cache_control="no-store")
    for _ in range(3):
        for vct in (cached, uncached, publisher.url("/types/missing")):
            await reader.labels(vct, None, {"age_over_18": True})
    assert publisher.hits["/types/cached"] == 1
    assert publisher.hits["/types/uncached"] == 3
    assert publisher.hits["/types/missing"] == 1  # a failure is remembered for a while


async def test_concurrent_checks_share_one_fetch(publisher: Publisher, reader: ClaimLabels) -> None:
    vct = publisher.url("/types/age")
    publisher.publish("/types/age", {"vct": vct, **AGE_TYPE})
    results = await asyncio.gather(
        *(reader.labels(vct, None, {"age_over_18": True}) for _ in range(20))
    )
    assert all(_labels(r) == _labels(results[0]) != {} for r in results)
    assert publisher.hits["/types/age"] == 1


async def test_labels_are_bounded(publisher: Publisher, reader: ClaimLabels) -> None:
    vct = publisher.url("/types/wordy")
    publisher.publish(
        "/types/wordy",
        {
            "vct": vct,
            "claims": [
                {
                    "path": ["age_over_18"],
                    "display": [
                        {"locale": "en", "label": "Aged 18 or over", "description": "Adult"},
                        {"locale": "de", "label": "x" * 10_000},
                        *({"locale": f"x-l{i}", "label": f"L{i}"} for i in range(100)),
                    ],
                }
            ],
        },
    )
    [entry] = await reader.labels(vct, None, {"age_over_18": True})
    assert entry["display"][0] == {"locale": "en", "label": "Aged 18 or over"}
    assert "de" not in {d["locale"] for d in entry["display"]}
    assert len(entry["display"]) == 16
