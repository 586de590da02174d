"""First-start material: the key-encryption key, the development trust anchor and the
development wallet-provider CA.

In development all three are generated into the git-ignored ``var/`` directory (file mode
0600, under a file lock so that several workers starting together agree). In production
the KEK comes from ``IDWALLET_KEY_ENCRYPTION_KEY``, the anchor from
``IDWALLET_TRUST_ANCHOR_CERT`` (and, where this deployment issues access certificates
itself, ``IDWALLET_TRUST_ANCHOR_KEY``), and the wallet-provider CA from
``IDWALLET_WALLET_PROVIDER_CA_CERT`` and ``IDWALLET_WALLET_PROVIDER_CA_KEY``; nothing is
generated. A production deployment without the wallet-provider CA attests none of its
wallet instances' keys (issuers that require key attestations then refuse its wallet).

The wallet-provider CA is a root of its own, apart from the deployment trust anchor:
issuers that trust it accept attestations signed under it, and nothing else this
deployment certifies (an agency's or counter's signing key) can sign one.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key

from app.settings import Settings, SettingsError
from core.encoding import EncodingError, b64url_decode, b64url_encode
from core.jose.algorithms import PrivateKey, algorithm_for_key
from core.jose.jwk import jwk_thumbprint, public_jwk
from core.keys.pkcs11_token import Pkcs11Token
from core.keys.pkcs11_uri import InvalidPkcs11Uri, is_pkcs11_uri, parse_pkcs11_uri
from core.keys.pkcs11_vault import Pkcs11Signer, public_key_of_point
from core.keys.signer import Signer, SoftwareSigner
from core.keys.wrapping import KEK_BYTES, KeyWrapper
from core.keys.x509 import create_trust_anchor

KEK_FILE = "key-encryption-key"
ANCHOR_CERT_FILE = "trust-anchor.pem"
ANCHOR_KEY_FILE = "trust-anchor.key.wrapped"
_ANCHOR_CONTEXT = "idwallet-trust-anchor"
PROVIDER_CA_CERT_FILE = "wallet-provider-ca.pem"
PROVIDER_CA_KEY_FILE = "wallet-provider-ca.key.wrapped"
_PROVIDER_CA_CONTEXT = "idwallet-wallet-provider-ca"


@dataclass(frozen=True, slots=True)
class TrustAnchor:
    certificate: x509.Certificate
    #: Signs what the authority issues; None where access certificates are issued elsewhere.
    signer: Signer | None

    def pem(self) -> str:
        return self.certificate.public_bytes(Encoding.PEM).decode("ascii")


@contextmanager
def locked_var_dir(var_dir: Path) -> Iterator[None]:
    var_dir.mkdir(parents=True, exist_ok=True)
    with open(var_dir / ".bootstrap.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def write_private_file(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _decode_kek(text: str, source: str) -> bytes:
    try:
        kek = b64url_decode(text.strip())
    except EncodingError:
        raise SettingsError(f"{source} must be base64url without padding") from None
    if len(kek) != KEK_BYTES:
        raise SettingsError(f"{source} must encode exactly {KEK_BYTES} bytes")
    return kek


def load_key_encryption_key(settings: Settings) -> bytes:
    if settings.key_encryption_key is not None:
        return _decode_kek(settings.key_encryption_key, "IDWALLET_KEY_ENCRYPTION_KEY")
    if settings.is_production:
        raise SettingsError("IDWALLET_KEY_ENCRYPTION_KEY is required in production")
    path = settings.var_dir / KEK_FILE
    with locked_var_dir(settings.var_dir):
        if not path.exists():
            write_private_file(path, (b64url_encode(os.urandom(KEK_BYTES)) + "\n").encode("ascii"))
    return _decode_kek(path.read_text(encoding="ascii"), str(path))


def _token_signer(
    token: Pkcs11Token, certificate: x509.Certificate, key_id: bytes | Callable[[], bytes]
) -> Pkcs11Signer:
    """The authority's key in the token; its signatures checked against the certificate's
    public key (a token holding another key under that name signs nothing)."""
    public = certificate.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise SettingsError("an authority kept in the token must have an EC key")
    jwk = public_jwk(public)
    return Pkcs11Signer(
        token,
        key_id,
        kid=jwk_thumbprint(jwk),
        alg=algorithm_for_key(public).name,
        jwk=jwk,
    )


def _configured_authority(
    cert: Path, key: Path | None, variable: str, token: Pkcs11Token | None
) -> TrustAnchor:
    """A configured authority: its key a PEM file, or a PKCS#11 URI (RFC 7512) naming a key
    an operator made in the deployment's token."""
    certificate = x509.load_pem_x509_certificate(cert.read_bytes())
    if key is None:
        return TrustAnchor(certificate, None)
    if is_pkcs11_uri(str(key)):
        try:
            named = parse_pkcs11_uri(str(key))
        except InvalidPkcs11Uri as exc:
            raise SettingsError(f"{variable}: {exc}") from None
        if token is None:
            raise SettingsError(
                f"{variable} names a key in a token: set IDWALLET_PKCS11_MODULE and "
                "IDWALLET_PKCS11_TOKEN, and IDWALLET_KEY_PROVIDER_DEPLOYMENT=pkcs11"
            )
        if named.token is not None and named.token != token.config.token_label:
            raise SettingsError(f"{variable} names another token than IDWALLET_PKCS11_TOKEN")

        def find() -> bytes:  # at first use, so a token away at start-up delays nothing
            return token.find_private_key(label=named.label, key_id=named.key_id)

        return TrustAnchor(certificate, _token_signer(token, certificate, find))
    loaded = load_pem_private_key(key.read_bytes(), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise SettingsError(f"{variable} must be an EC private key")
    return TrustAnchor(certificate, SoftwareSigner(loaded))


def _development_authority(
    settings: Settings,
    wrapper: KeyWrapper,
    files: tuple[str, str, str],
    name: str,
    token: Pkcs11Token | None,
) -> TrustAnchor:
    """A root CA generated at first start: its certificate into ``var/``, its key wrapped
    into ``var/`` or, where the deployment's keys are in a token, made in the token under
    a fixed ``CKA_ID`` (``files`` are its certificate file, its wrapped key file and the
    wrapping context, which is that id). An authority stays where it was made: switching
    the class later does not replace a root every certificate chains to."""
    cert_file, key_file, context = files
    cert_path, key_path = settings.var_dir / cert_file, settings.var_dir / key_file
    key_id = context.encode("ascii")
    with locked_var_dir(settings.var_dir):
        in_software = cert_path.exists() and key_path.exists()
        in_token = cert_path.exists() and not key_path.exists() and token is not None
        if not in_software and not in_token:
            signer: Signer
            if token is not None:
                point = token.generate_named_signing_key(key_id, name, "P-256")
                jwk = public_jwk(public_key_of_point(point, "P-256"))
                signer = Pkcs11Signer(token, key_id, kid=jwk_thumbprint(jwk), alg="ES256", jwk=jwk)
            else:
                key = ec.generate_private_key(ec.SECP256R1())
                write_private_file(key_path, wrapper.wrap(key, context=context))
                signer = SoftwareSigner(key)
            certificate = create_trust_anchor(
                signer,
                common_name=name,
                organization="idwallet (development)",
                now=dt.datetime.now(dt.UTC),
                country=settings.country,
            )
            cert_path.write_bytes(certificate.public_bytes(Encoding.PEM))
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    if key_path.exists():
        wrapped = wrapper.unwrap(key_path.read_bytes(), context=context)
        return TrustAnchor(certificate, SoftwareSigner(wrapped))
    if token is None:
        raise SettingsError(
            f"the key of {cert_path} is kept in a token: configure IDWALLET_PKCS11_*"
        )
    return TrustAnchor(certificate, _token_signer(token, certificate, key_id))


def load_trust_anchor(
    settings: Settings, wrapper: KeyWrapper, token: Pkcs11Token | None = None
) -> TrustAnchor:
    """``token``: the deployment's token where its own authorities are kept in one."""
    if settings.trust_anchor_cert is not None:
        return _configured_authority(
            settings.trust_anchor_cert,
            settings.trust_anchor_key,
            "IDWALLET_TRUST_ANCHOR_KEY",
            token,
        )
    if settings.is_production:
        raise SettingsError("IDWALLET_TRUST_ANCHOR_CERT is required in production")
    return _development_authority(
        settings,
        wrapper,
        (ANCHOR_CERT_FILE, ANCHOR_KEY_FILE, _ANCHOR_CONTEXT),
        "idwallet development trust anchor",
        token,
    )


def load_wallet_provider_ca(
    settings: Settings, wrapper: KeyWrapper, token: Pkcs11Token | None = None
) -> TrustAnchor | None:
    """The CA of this deployment as wallet provider; None in a production deployment that
    configures none."""
    if settings.wallet_provider_ca_cert is not None:
        return _configured_authority(
            settings.wallet_provider_ca_cert,
            settings.wallet_provider_ca_key,
            "IDWALLET_WALLET_PROVIDER_CA_KEY",
            token,
        )
    if settings.is_production:
        return None
    return _development_authority(
        settings,
        wrapper,
        (PROVIDER_CA_CERT_FILE, PROVIDER_CA_KEY_FILE, _PROVIDER_CA_CONTEXT),
        "idwallet development wallet provider CA",
        token,
    )


def install_wallet_provider_ca(
    settings: Settings, wrapper: KeyWrapper, certificate: x509.Certificate, key: PrivateKey
) -> None:
    """Put a given CA where development start-up looks for the wallet-provider CA (test
    suites that hold the CA's key, to attest keys as this deployment's wallet would)."""
    with locked_var_dir(settings.var_dir):
        write_private_file(
            settings.var_dir / PROVIDER_CA_KEY_FILE, wrapper.wrap(key, context=_PROVIDER_CA_CONTEXT)
        )
        (settings.var_dir / PROVIDER_CA_CERT_FILE).write_bytes(
            certificate.public_bytes(Encoding.PEM)
        )
