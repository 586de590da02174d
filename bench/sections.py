"""Rewriting one section of ``docs/benchmarks.md`` in place, for a benchmark run alone."""

from __future__ import annotations


def splice_section(document: str, lines: list[str], *, before: str = "## Notes") -> str:
    """``document`` with the section whose heading is ``lines[0]`` replaced by ``lines``;
    a section not there yet goes in before the heading ``before`` (or at the end)."""
    heading = lines[0]
    text = "\n".join(lines) + "\n"
    if heading in document:
        start = document.index(heading)
        following = document.find("\n## ", start + len(heading))
        end = len(document) if following == -1 else following + 1
        return document[:start] + text + ("\n" if following != -1 else "") + document[end:]
    place = document.find("\n" + before)
    if place == -1:
        return document.rstrip("\n") + "\n\n" + text
    return document[: place + 1] + text + "\n" + document[place + 1 :]
