"""Trust anchor, access certificates, x5c chains and their validation."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from core.keys.x509 import (
    AccessCertificateRequest,
    CertificateError,
    create_trust_anchor,
    issue_access_certificate,
    parse_x5c,
    san_dns_names,
    san_uris,
    to_x5c,
    validate_x5c,
    x509_hash,
)

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def anchor() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    return key, create_trust_anchor(key, common_name="Test anchor", now=NOW)


def _leaf(
    anchor: tuple[ec.EllipticCurvePrivateKey, x509.Certificate], **request: object
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    req = AccessCertificateRequest(
        common_name="Civil Registry",
        dns_names=("issuer.example.gov",),
        uris=("https://issuer.example.gov/issuers/civil-registry",),
        **request,  # type: ignore[arg-type]
    )
    cert = issue_access_certificate(
        req, key.public_key(), anchor_key=anchor[0], anchor=anchor[1], now=NOW
    )
    return key, cert


def test_access_certificate_validates_to_the_anchor(
    anchor: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
) -> None:
    _, leaf = _leaf(anchor)
    x5c = list(to_x5c([leaf]))
    assert validate_x5c(x5c, [anchor[1]], at=NOW) == leaf
    assert san_dns_names(leaf) == ["issuer.example.gov"]
    assert san_uris(leaf) == ["https://issuer.example.gov/issuers/civil-registry"]
    assert len(x509_hash(leaf)) == 43


def test_chain_to_an_unknown_root_is_refused(
    anchor: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
) -> None:
    other_key = ec.generate_private_key(ec.SECP256R1())
    other = create_trust_anchor(other_key, common_name="Other", now=NOW)
    _, leaf = _leaf(anchor)
    with pytest.raises(CertificateError):
        validate_x5c(list(to_x5c([leaf])), [other], at=NOW)


def test_x5c_containing_the_anchor_or_a_self_signed_leaf_is_refused(
    anchor: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
) -> None:
    _, leaf = _leaf(anchor)
    with pytest.raises(CertificateError, match="trust anchor"):
        validate_x5c(list(to_x5c([leaf, anchor[1]])), [anchor[1]], at=NOW)
    self_key = ec.generate_private_key(ec.SECP256R1())
    self_signed = create_trust_anchor(self_key, common_name="Self", now=NOW)
    with pytest.raises(CertificateError):
        validate_x5c(list(to_x5c([self_signed])), [anchor[1]], at=NOW)


def test_expired_certificate_is_refused(
    anchor: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
) -> None:
    _, leaf = _leaf(anchor, valid_days=1)
    with pytest.raises(CertificateError):
        validate_x5c(list(to_x5c([leaf])), [anchor[1]], at=NOW + dt.timedelta(days=3))


def test_access_certificate_cannot_outlive_its_anchor(
    anchor: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
) -> None:
    _, leaf = _leaf(anchor, valid_days=100_000)
    assert leaf.not_valid_after_utc <= anchor[1].not_valid_after_utc


def test_a_leaf_cannot_act_as_a_ca(
    anchor: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
) -> None:
    leaf_key, leaf = _leaf(anchor)
    fake_anchor = (leaf_key, leaf)
    _, grandchild = _leaf(fake_anchor)
    with pytest.raises(CertificateError):
        validate_x5c(list(to_x5c([grandchild, leaf])), [anchor[1]], at=NOW)


@pytest.mark.parametrize(
    "x5c",
    [
        "MIIB",
        [],
        ["not base64!"],
        [base64.b64encode(b"not DER").decode()],
        [1],
        ["QQ=="] * 6,
    ],
)
def test_malformed_x5c(x5c: object) -> None:
    with pytest.raises(CertificateError):
        parse_x5c(x5c)


def test_access_certificate_needs_a_name(
    anchor: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
) -> None:
    with pytest.raises(ValueError):
        issue_access_certificate(
            AccessCertificateRequest(common_name="x"),
            ec.generate_private_key(ec.SECP256R1()).public_key(),
            anchor_key=anchor[0],
            anchor=anchor[1],
            now=NOW,
        )
