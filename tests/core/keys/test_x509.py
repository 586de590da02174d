"""Trust anchor, access certificates, x5c chains and their validation."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from core.keys import x509 as x509_module
from core.keys.x509 import (
    AccessCertificateRequest,
    CertificateError,
    ValidatedChains,
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
    other = create_trust_anchor(ec.generate_private_key(ec.SECP256R1()), common_name="O", now=NOW)
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
