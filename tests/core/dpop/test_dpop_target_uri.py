"""The normal form ``htu`` values are compared in (RFC 9449 §4.3, RFC 3986 §6.2.2, §6.2.3)."""

from __future__ import annotations

import pytest

from core.dpop.target_uri import normalized_target_uri


@pytest.mark.parametrize(
    ("uri", "normal"),
    [
        ("https://server.example.com/token", "https://server.example.com/token"),
        ("HTTPS://SERVER.Example.com/token", "https://server.example.com/token"),
        ("https://server.example.com:443/token", "https://server.example.com/token"),
        ("http://server.example.com:80/token", "http://server.example.com/token"),
        ("https://server.example.com:8443/token", "https://server.example.com:8443/token"),
        ("http://server.example.com:443/token", "http://server.example.com:443/token"),
        ("https://server.example.com", "https://server.example.com/"),
        ("https://server.example.com/a%2fb%7e%41", "https://server.example.com/a%2Fb~A"),
        ("https://server.example.com/Token?x=1#y", "https://server.example.com/Token"),
        ("https://[2001:DB8::1]:443/token", "https://[2001:db8::1]/token"),
        ("https://[2001:db8::1]:8443/token", "https://[2001:db8::1]:8443/token"),
    ],
)
def test_uris_are_brought_into_normal_form(uri: str, normal: str) -> None:
    assert normalized_target_uri(uri) == normal


@pytest.mark.parametrize(
    "uri",
    [
        None,
        42,
        "",
        "/token",
        "ftp://server.example.com/token",
        "https:///token",
        "https://user:pass@server.example.com/token",
        "https://server.example.com:port/token",
        "https://server.example.com/to ken",
        "https://server.example.com/to\nken",
        "https://server.example.com/tök",
        "https://server.example.com/%G0",
        "https://server.example.com/" + "a" * 2048,
    ],
)
def test_anything_but_an_absolute_http_uri_has_no_normal_form(uri: object) -> None:
    assert normalized_target_uri(uri) is None
