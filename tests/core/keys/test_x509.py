"""Trust anchor, access certificates, x5c chains and their validation."""

from __future__ import annotations

import base64
import datetime as dt
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import SignatureAlgorithmOID

from core.jose.algorithms import PrivateKey
from core.keys import x509 as x509_module
from core.keys.signer import SoftwareSigner
from core.keys.x509 import (
    AccessCertificateRequest,
    CertificateError,
    CertificateSigningError,
    ValidatedChains,
    create_trust_anchor,
    issue_access_certificate,
    parse_x5c,
    san_dns_names,
    san_uris,
    to_x5c,
    validate_chain,
    validate_x5c,
    x509_hash,
)

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def anchor() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    return key, create_trust_anchor(SoftwareSigner(key), common_name="Test anchor", now=NOW)


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
        req, key.public_key(), anchor_signer=SoftwareSigner(anchor[0]), anchor=anchor[1], now=NOW
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
    other = create_trust_anchor(SoftwareSigner(other_key), common_name="Other", now=NOW)
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
    self_signed = create_trust_anchor(SoftwareSigner(self_key), common_name="Self", now=NOW)
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
            anchor_signer=SoftwareSigner(anchor[0]),
            anchor=anchor[1],
            now=NOW,
        )


# -- signed through a Signer (the key may stay in a hardware module) -------------------

REQUEST = AccessCertificateRequest(
    common_name="Civil Registry",
    organization="Ministry of the Interior",
    dns_names=("issuer.example.gov",),
    uris=("https://issuer.example.gov/issuers/civil-registry",),
    country="DE",
)

CURVES = pytest.mark.parametrize(
    ("alg", "curve", "hash_type", "oid"),
    [
        ("ES256", ec.SECP256R1(), hashes.SHA256, SignatureAlgorithmOID.ECDSA_WITH_SHA256),
        ("ES384", ec.SECP384R1(), hashes.SHA384, SignatureAlgorithmOID.ECDSA_WITH_SHA384),
        ("ES512", ec.SECP521R1(), hashes.SHA512, SignatureAlgorithmOID.ECDSA_WITH_SHA512),
    ],
    ids=["ES256", "ES384", "ES512"],
)


class _SignsWithAnotherKey(SoftwareSigner):
    """A signer that names one key and signs with another (a module holding the wrong key
    under a label, say)."""

    __slots__ = ("_other",)

    def __init__(self, key: PrivateKey, other: PrivateKey) -> None:
        super().__init__(key)
        self._other = SoftwareSigner(other)

    def sign(self, data: bytes) -> bytes:
        return self._other.sign(data)


class _Truncating(SoftwareSigner):
    __slots__ = ()

    def sign(self, data: bytes) -> bytes:
        return super().sign(data)[:-1]


class _NamesAnotherAlgorithm(SoftwareSigner):
    __slots__ = ()

    @property
    def alg(self) -> str:
        return "ES384"


def _signer_chain(
    curve: ec.EllipticCurve,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, x509.Certificate]:
    """A root over a key of ``curve`` and an access certificate under it, both signed
    through a ``Signer``: the root's key, the root, the leaf."""
    anchor_key = ec.generate_private_key(curve)
    signer = SoftwareSigner(anchor_key)
    root = create_trust_anchor(
        signer, common_name="Signer Root", organization="Agency", country="DE", now=NOW
    )
    leaf = issue_access_certificate(
        REQUEST,
        ec.generate_private_key(ec.SECP256R1()).public_key(),
        anchor_signer=signer,
        anchor=root,
        now=NOW,
    )
    return anchor_key, root, leaf


@CURVES
def test_certificates_signed_through_a_signer_validate(
    alg: str,
    curve: ec.EllipticCurve,
    hash_type: type[hashes.HashAlgorithm],
    oid: x509.ObjectIdentifier,
) -> None:
    anchor_key, root, leaf = _signer_chain(curve)
    assert SoftwareSigner(anchor_key).alg == alg
    root.verify_directly_issued_by(root)
    leaf.verify_directly_issued_by(root)
    assert validate_chain([leaf], [root], at=NOW) == leaf
    assert validate_x5c(list(to_x5c([leaf])), [root], at=NOW) == leaf
    for certificate in (root, leaf):
        assert certificate.signature_algorithm_oid == oid
        assert isinstance(certificate.signature_hash_algorithm, hash_type)
    # what depends on the issuer's key is the signer's key
    anchor_public = anchor_key.public_key()
    assert root.public_key() == anchor_public
    ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(anchor_public)
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert leaf.issuer == root.subject == root.issuer
    assert leaf.subject.rfc4514_string() == "C=DE,O=Ministry of the Interior,CN=Civil Registry"
    assert san_uris(leaf) == list(REQUEST.uris)


def test_an_ed25519_signer_signs_certificates() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    signer = SoftwareSigner(key)
    root = create_trust_anchor(signer, common_name="Ed25519 Root", now=NOW)
    leaf = issue_access_certificate(
        REQUEST,
        ec.generate_private_key(ec.SECP256R1()).public_key(),
        anchor_signer=signer,
        anchor=root,
        now=NOW,
    )
    root.verify_directly_issued_by(root)
    leaf.verify_directly_issued_by(root)
    assert (
        root.signature_algorithm_oid
        == leaf.signature_algorithm_oid
        == SignatureAlgorithmOID.ED25519
    )
    assert root.public_key() == key.public_key()


@CURVES
def test_a_signer_that_signs_with_another_key_issues_nothing(
    alg: str,
    curve: ec.EllipticCurve,
    hash_type: type[hashes.HashAlgorithm],
    oid: x509.ObjectIdentifier,
) -> None:
    named, other = ec.generate_private_key(curve), ec.generate_private_key(curve)
    with pytest.raises(CertificateSigningError, match="does not verify"):
        create_trust_anchor(_SignsWithAnotherKey(named, other), common_name="Root", now=NOW)
    root = create_trust_anchor(SoftwareSigner(named), common_name="Root", now=NOW)
    with pytest.raises(CertificateSigningError, match="does not verify"):
        issue_access_certificate(
            REQUEST,
            ec.generate_private_key(ec.SECP256R1()).public_key(),
            anchor_signer=_SignsWithAnotherKey(named, other),
            anchor=root,
            now=NOW,
        )


def test_a_signer_for_another_key_than_the_anchors_issues_nothing() -> None:
    anchor_key = ec.generate_private_key(ec.SECP256R1())
    root = create_trust_anchor(SoftwareSigner(anchor_key), common_name="Root", now=NOW)
    subject = ec.generate_private_key(ec.SECP256R1()).public_key()
    # honest about its own key, but that key is not the one the anchor certifies
    with pytest.raises(CertificateSigningError, match="not the key of the anchor"):
        issue_access_certificate(
            REQUEST,
            subject,
            anchor_signer=SoftwareSigner(ec.generate_private_key(ec.SECP256R1())),
            anchor=root,
            now=NOW,
        )
    # names the anchor's key, signs with the key it names, yet not as a signature of its size
    with pytest.raises(CertificateSigningError, match="wrong length"):
        issue_access_certificate(
            REQUEST, subject, anchor_signer=_Truncating(anchor_key), anchor=root, now=NOW
        )
    with pytest.raises(CertificateSigningError, match="does not fit its key"):
        create_trust_anchor(_NamesAnotherAlgorithm(anchor_key), common_name="Root", now=NOW)


@CURVES
def test_openssl_verifies_what_a_signer_signed(
    alg: str,
    curve: ec.EllipticCurve,
    hash_type: type[hashes.HashAlgorithm],
    oid: x509.ObjectIdentifier,
    tmp_path: Path,
) -> None:
    """An implementation that shares no code with ours checks the chain: OpenSSL's
    ``verify``, strict about the X.509 profile, at a time the certificates are valid."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed")
    _, root, leaf = _signer_chain(curve)
    _, stranger, _ = _signer_chain(curve)
    for name, certificate in (("root", root), ("leaf", leaf), ("stranger", stranger)):
        (tmp_path / f"{name}.pem").write_bytes(certificate.public_bytes(Encoding.PEM))

    def verify(ca_file: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                openssl,
                "verify",
                "-x509_strict",
                "-attime",
                str(int(NOW.timestamp()) + 60),
                "-CAfile",
                ca_file,
                "leaf.pem",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )

    accepted = verify("root.pem")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert accepted.stdout.strip() == "leaf.pem: OK"
    refused = verify("stranger.pem")
    assert refused.returncode != 0


# -- chains remembered once validated ---------------------------------------------------

AT = NOW.timestamp() + 60  # the certificates are valid from NOW minus five minutes
Anchor = tuple[ec.EllipticCurvePrivateKey, x509.Certificate]


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many times a chain was path-validated (``validate_chain`` ran)."""
    ran: list[int] = []
    validate = x509_module.validate_chain

    def counted(*args: object, **kwargs: object) -> x509.Certificate:
        ran.append(1)
        return validate(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(x509_module, "validate_chain", counted)
    yield ran


def test_a_validated_chain_is_remembered_by_its_exact_values(
    anchor: Anchor, validations: list[int]
) -> None:
    chains = ValidatedChains()
    key, leaf = _leaf(anchor)
    x5c = list(to_x5c([leaf]))
    first = chains.validate(x5c, [anchor[1]], now=AT)
    assert first.leaf == leaf
    assert first.key.public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
    assert chains.validate(list(x5c), [anchor[1]], now=AT + 1) is first
    assert len(validations) == 1
    _, other_leaf = _leaf(anchor)
    assert chains.validate(list(to_x5c([other_leaf])), [anchor[1]], now=AT).leaf == other_leaf
    assert len(validations) == 2


def test_a_remembered_chain_counts_only_for_the_anchors_it_validated_to(
    anchor: Anchor, validations: list[int]
) -> None:
    chains = ValidatedChains()
    _, leaf = _leaf(anchor)
    x5c = list(to_x5c([leaf]))
    chains.validate(x5c, [anchor[1]], now=AT)
    other = create_trust_anchor(
        SoftwareSigner(ec.generate_private_key(ec.SECP256R1())), common_name="O", now=NOW
    )
    with pytest.raises(CertificateError):
        chains.validate(x5c, [other], now=AT)
    chains.validate(x5c, [other, anchor[1]], now=AT)  # another set of anchors: validated again
    assert len(validations) == 3


def test_a_refused_chain_is_never_remembered(anchor: Anchor, validations: list[int]) -> None:
    chains = ValidatedChains()
    _, leaf = _leaf(anchor)
    x5c = list(to_x5c([leaf, anchor[1]]))  # carries the anchor
    for _ in range(2):
        with pytest.raises(CertificateError):
            chains.validate(x5c, [anchor[1]], now=AT)
    assert len(validations) == 2
    assert len(chains) == 0
    with pytest.raises(CertificateError):
        chains.validate("MIIB", [anchor[1]], now=AT)


def test_a_remembered_chain_ends_with_its_earliest_certificate(
    anchor: Anchor, validations: list[int]
) -> None:
    chains = ValidatedChains(max_age=3600)
    _, leaf = _leaf(anchor, valid_days=1)
    x5c = list(to_x5c([leaf]))
    chains.validate(x5c, [anchor[1]], now=AT)
    end = leaf.not_valid_after_utc.timestamp()
    with pytest.raises(CertificateError):
        chains.validate(x5c, [anchor[1]], now=end + 1)
    # nor before the latest notBefore (a clock set back)
    chains.validate(x5c, [anchor[1]], now=AT)
    with pytest.raises(CertificateError):
        chains.validate(x5c, [anchor[1]], now=leaf.not_valid_before_utc.timestamp() - 1)
    assert len(validations) == 4


def test_a_remembered_chain_is_validated_again_after_max_age(
    anchor: Anchor, validations: list[int]
) -> None:
    chains = ValidatedChains(max_age=120)
    _, leaf = _leaf(anchor)
    x5c = list(to_x5c([leaf]))
    chains.validate(x5c, [anchor[1]], now=AT)
    chains.validate(x5c, [anchor[1]], now=AT + 119)
    assert len(validations) == 1
    chains.validate(x5c, [anchor[1]], now=AT + 120)
    assert len(validations) == 2


def test_the_memory_is_bounded_least_recently_used_first(
    anchor: Anchor, validations: list[int]
) -> None:
    chains = ValidatedChains(max_entries=2)
    x5cs = [list(to_x5c([_leaf(anchor)[1]])) for _ in range(3)]
    for x5c in x5cs[:2]:
        chains.validate(x5c, [anchor[1]], now=AT)
    chains.validate(x5cs[0], [anchor[1]], now=AT)  # used: the second is now the oldest
    chains.validate(x5cs[2], [anchor[1]], now=AT)
    assert len(chains) == 2 and len(validations) == 3
    chains.validate(x5cs[0], [anchor[1]], now=AT)
    assert len(validations) == 3
    chains.validate(x5cs[1], [anchor[1]], now=AT)
    assert len(validations) == 4


@pytest.mark.parametrize(("max_entries", "max_age"), [(0, 300), (1, 0), (1, 7200)])
def test_a_chain_memory_is_small_and_short(max_entries: int, max_age: float) -> None:
    with pytest.raises(ValueError):
        ValidatedChains(max_entries=max_entries, max_age=max_age)


# a flipped sign bit makes a serial number negative: cryptography warns it will refuse
# such certificates at load one day (then a ValueError, refused the same way)
@pytest.mark.filterwarnings("ignore:Parsed a serial number which wasn't positive")
def test_a_corrupted_certificate_is_a_certificate_error_wherever_it_breaks(
    anchor: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
) -> None:
    """cryptography reads a certificate's fields lazily: a byte flipped in its version,
    extensions or names fails only when the chain is checked, with ``ValueError``,
    ``InvalidVersion`` or ``DuplicateExtension``; every one of them is a
    ``CertificateError`` (a refusal), never an unexpected exception (a 500)."""
    _, leaf = _leaf(anchor, country="DE")
    der = bytearray(base64.b64decode(to_x5c([leaf])[0]))
    outcomes: set[str] = set()
    for position in range(len(der)):
        for mask in (0x01, 0x80):
            corrupted = (
                bytes(der[:position]) + bytes([der[position] ^ mask]) + bytes(der[position + 1 :])
            )
            try:
                validate_x5c([base64.b64encode(corrupted).decode()], [anchor[1]], at=NOW)
            except CertificateError:
                outcomes.add("refused")
            else:
                outcomes.add("accepted")
    # a flip may land in a part no check reads (an unsigned outer length it survives,
    # say), but nothing raises anything else
    assert "refused" in outcomes
