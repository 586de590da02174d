"""Test keys and certificates for mdoc, generated in the tests (none is committed): an
IACA-like trust anchor and document signer certificates under it (ISO/IEC 18013-5 Annex B:
extended key usage ``1.0.18013.5.1.2``, mdlDS), and device keys."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier

from core.keys.signer import SoftwareSigner
from core.keys.x509 import create_trust_anchor, to_x5c

MDL_DS_EKU = ObjectIdentifier("1.0.18013.5.1.2")
#: 2026-03-02T10:00:00Z: every test runs at this fixed time.
NOW = dt.datetime(2026, 3, 2, 10, 0, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Issuer:
    anchor: x509.Certificate
    anchor_key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    signer: SoftwareSigner


def trust_anchor(name: str = "Test IACA") -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    anchor = create_trust_anchor(
        SoftwareSigner(key), common_name=name, now=NOW - dt.timedelta(days=30)
    )
    return anchor, key


def document_signer(
    anchor: x509.Certificate,
    anchor_key: ec.EllipticCurvePrivateKey,
    *,
    not_before: dt.datetime = NOW - dt.timedelta(days=10),
    not_after: dt.datetime = NOW + dt.timedelta(days=365),
    curve: ec.EllipticCurve | None = None,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> tuple[x509.Certificate, SoftwareSigner]:
    key = key or ec.generate_private_key(curve or ec.SECP256R1())
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test DS")]))
        .issuer_name(anchor.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([MDL_DS_EKU]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(anchor_key.public_key()),
            critical=False,
        )
        .sign(anchor_key, hashes.SHA256())
    )
    return certificate, SoftwareSigner(key, x5c=to_x5c([certificate]))


def issuer(**options: object) -> Issuer:
    anchor, anchor_key = trust_anchor()
    certificate, signer = document_signer(anchor, anchor_key, **options)  # type: ignore[arg-type]
    return Issuer(anchor, anchor_key, certificate, signer)


def device_signer() -> SoftwareSigner:
    return SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))
