"""``idwallet wallet``: a command-line client of the citizen mobile API that behaves like
the phone app in device-bound mode. The device key and every holder key stay in a local
wallet file (mode 0600); the server only ever sees public keys and signatures.

Every command prints one JSON object, exits non-zero with a JSON error object when the
server or the wallet refuses, and never prompts: ``present`` without ``--approve`` or
``--decline`` prints the consent view and leaves the request unanswered.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from core.encoding import b64url_decode, b64url_encode, json_dumps
from core.jose.jwk import public_jwk

DEFAULT_SERVER = "http://127.0.0.1:8000"
DEFAULT_WALLET_FILE = "var/wallet-client.json"
DEVICE_PROOF_TYP = "wallet-device-proof+jwt"


class WalletCommandError(Exception):
    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(body.get("error", "error"))
        self.body = body


def add_wallet_commands(sub: Any) -> None:
    wallet = sub.add_parser("wallet", help="a citizen's wallet from the command line")
    commands = wallet.add_subparsers(dest="wallet_command", required=True)
    register = commands.add_parser("register", help="register this wallet file's device")
    register.add_argument("--name", default="command line", help="the device's name")
    receive = commands.add_parser("receive", help="receive the credential of an offer")
    receive.add_argument("offer_uri", help="openid-credential-offer://… as scanned")
    receive.add_argument("--tx-code", help="the transaction code sent to the citizen")
    issue = commands.add_parser(
        "issue", help="ask an issuer for a credential (the citizen proves who they are online)"
    )
    issue.add_argument("--issuer", required=True, help="the issuer's identifier (a URL)")
    issue.add_argument("--credential", required=True, help="the credential configuration id")
    authorized = commands.add_parser(
        "authorized", help="finish an issuance with the issuer's redirect back to the wallet"
    )
    authorized.add_argument("issuance_id", help="as printed by receive or issue")
    authorized.add_argument("redirect_url", help="the …/wallet/callback?code=… URL reached")
    commands.add_parser(
        "pending", help="issuances whose credentials the issuer deferred (what is still to come)"
    )
    fetch = commands.add_parser("fetch", help="ask the issuer now for deferred credentials")
    fetch.add_argument("issuance_id", help="as listed by pending")
    commands.add_parser("list", help="the credentials in the wallet")
    renew = commands.add_parser(
        "renew",
        help="ask for fresh copies of a one-time credential (listed with renewal_due); "
        "without an id, every credential due",
    )
    renew.add_argument("credential_id", nargs="?", help="as listed by list")
    present = commands.add_parser("present", help="answer a presentation request")
    present.add_argument("request_uri", help="openid4vp://… as scanned")
    answer = present.add_mutually_exclusive_group()
    answer.add_argument("--approve", action="store_true", help="share what is asked")
    answer.add_argument("--decline", action="store_true", help="refuse; the verifier is told")
    present.add_argument(
        "--omit", action="append", default=[], metavar="CLAIM", help="leave out an optional claim"
    )
    commands.add_parser("activity", help="the wallet's activity log")
    for command in commands.choices.values():
        command.add_argument(
            "--server",
            default=os.environ.get("IDWALLET_SERVER", DEFAULT_SERVER),
            help=f"default {DEFAULT_SERVER}",
        )
        command.add_argument(
            "--wallet-file",
            default=os.environ.get("IDWALLET_WALLET_FILE", DEFAULT_WALLET_FILE),
            help=f"the local keys (default {DEFAULT_WALLET_FILE})",
        )


def _es256(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def _key(pem: str) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("the wallet file holds a key that is not an EC key")
    return key


class WalletClient:
    def __init__(self, server: str, wallet_file: Path) -> None:
        self.base = server.rstrip("/")
        self.file = wallet_file
        self.state: dict[str, Any] = {}
        if wallet_file.exists():
            self.state = json.loads(wallet_file.read_text(encoding="utf-8"))
        self.http = httpx.Client(base_url=self.base, timeout=60)
        self.token: str | None = None

    def save(self) -> None:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.file.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(self.state, handle, indent=2)
        temporary.replace(self.file)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = self.http.request(method, path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise WalletCommandError(
                {"error": "server_unreachable", "error_description": str(exc)}
            ) from exc
        try:
            document = response.json() if response.content else {}
        except ValueError:
            document = {"error": "server_error", "error_description": response.text[:300]}
        if response.status_code >= 400:
            if not isinstance(document, dict) or "error" not in document:
                document = {"error": "server_error", "status": response.status_code}
            raise WalletCommandError(document)
        return document if isinstance(document, dict) else {"value": document}

    def _proof(self, key: ec.EllipticCurvePrivateKey, header: dict[str, Any]) -> str:
        challenge = self.call("POST", "/wallet/challenges")["challenge"]
        payload = {"aud": f"{self.base}/wallet", "iat": int(time.time()), "nonce": challenge}
        signing_input = (
            b64url_encode(json_dumps(header).encode())
            + "."
            + b64url_encode(json_dumps(payload).encode())
        )
        return signing_input + "." + b64url_encode(_es256(key, signing_input.encode("ascii")))

    def register(self, name: str) -> dict[str, Any]:
        if self.state.get("account_id"):
            raise WalletCommandError(
                {"error": "already_registered", "account_id": self.state["account_id"]}
            )
        key = ec.generate_private_key(ec.SECP256R1())
        proof = self._proof(key, {"alg": "ES256", "typ": DEVICE_PROOF_TYP, "jwk": public_jwk(key)})
        session = self.call(
            "POST", "/wallet/accounts", {"device_proof": proof, "device_name": name}
        )
        self.state = {
            "server": self.base,
            "account_id": session["account_id"],
            "device_id": session["device_id"],
            "device_key": _pem(key),
            "holder_keys": {},
        }
        self.save()
        return {
            "account_id": session["account_id"],
            "device_id": session["device_id"],
            "wallet_file": str(self.file),
        }

    def login(self) -> None:
        if not self.state.get("device_id"):
            raise WalletCommandError(
                {"error": "not_registered", "error_description": "run idwallet wallet register"}
            )
        header = {"alg": "ES256", "typ": DEVICE_PROOF_TYP, "kid": self.state["device_id"]}
        proof = self._proof(_key(self.state["device_key"]), header)
        self.token = self.call("POST", "/wallet/sessions", {"device_proof": proof})["access_token"]

    def _sign(self, requests: list[dict[str, Any]]) -> list[str]:
        signatures = []
        for request in requests:
            pem = self.state["holder_keys"].get(request["holder_key"]["x"])
            if pem is None or request.get("alg") != "ES256":
                raise WalletCommandError(
                    {"error": "unknown_key", "error_description": "a key this wallet does not hold"}
                )
            # an mdoc's DeviceAuth: the COSE Sig_structure, base64url; else a JWS input
            data = (
                b64url_decode(request["signing_input"])
                if request.get("encoding") == "base64url"
                else request["signing_input"].encode("ascii")
            )
            signatures.append(b64url_encode(_es256(_key(pem), data)))
        return signatures

    def receive(self, offer_uri: str, tx_code: str | None) -> dict[str, Any]:
        self.login()
        scanned = self.call("POST", "/wallet/scans", {"uri": offer_uri})
        if scanned["kind"] != "offer":
            raise WalletCommandError(
                {"error": "invalid_request", "error_description": "not a credential offer"}
            )
        offer = scanned["offer"]
        body: dict[str, Any] = {
            "custody": "device",
            "holder_keys": self._new_holder_keys(offer["holder_keys_needed"]),
        }
        if offer.get("authorization_required"):
            body["instance_keys"] = self._new_instance_keys()
        if tx_code is not None:
            body["tx_code"] = tx_code
        accepted = self._signed(
            self.call("POST", f"/wallet/offers/{offer['offer_id']}/accept", body)
        )
        if accepted["status"] == "authorization_required":
            return self._authorization_required(accepted)
        return {"issuer": offer["issuer"], **accepted}

    def _signed(self, outcome: dict[str, Any]) -> dict[str, Any]:
        """The issuance after the phone signed every round it was asked to (the holder
        keys' proofs, and the proofs of the instance keys it keeps)."""
        while outcome["status"] == "proofs_needed":
            outcome = self.call(
                "POST",
                f"/wallet/offers/{outcome['offer_id']}/complete",
                {"signatures": self._sign(outcome["signing_requests"])},
            )
        return outcome

    def _new_instance_keys(self) -> dict[str, dict[str, str]]:
        """The attestation and DPoP keys of this wallet instance for one issuer."""
        attestation, dpop = self._new_holder_keys(2)
        return {"attestation": attestation, "dpop": dpop}

    def _new_holder_keys(self, count: int) -> list[dict[str, str]]:
        keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(count)]
        for key in keys:
            self.state["holder_keys"][public_jwk(key)["x"]] = _pem(key)
        self.save()  # the keys exist before anything is signed with them
        return [public_jwk(k) for k in keys]

    def _authorization_required(self, outcome: dict[str, Any]) -> dict[str, Any]:
        """Printed for the citizen to open ``authorization_url`` in a browser; the keys
        the redirect must bring are made when it does (``authorized``)."""
        self.state.setdefault("issuances", {})[outcome["offer_id"]] = {
            "holder_keys_needed": outcome.get("holder_keys_needed", 0)
        }
        self.save()
        return {
            "status": "authorization_required",
            "issuance_id": outcome["offer_id"],
            "authorization_url": outcome["authorization_url"],
        }

    def issue(self, issuer: str, credential: str) -> dict[str, Any]:
        self.login()
        started = self.call(
            "POST",
            "/wallet/issuances",
            {
                "credential_issuer": issuer,
                "credential_configuration_id": credential,
                "custody": "device",
                "instance_keys": self._new_instance_keys(),
            },
        )
        return self._authorization_required(self._signed(started))

    def authorized(self, issuance_id: str, redirect_url: str) -> dict[str, Any]:
        self.login()
        pending = self.state.get("issuances", {}).get(issuance_id, {})
        body: dict[str, Any] = {"redirect_url": redirect_url, "issuance_id": issuance_id}
        if pending.get("holder_keys_needed"):
            body["holder_keys"] = self._new_holder_keys(pending["holder_keys_needed"])
        result = self._signed(self.call("POST", "/wallet/issuances/authorized", body))
        self.state.get("issuances", {}).pop(issuance_id, None)
        self.save()
        return result

    def fetch(self, issuance_id: str) -> dict[str, Any]:
        """Ask for the deferred credentials of an issuance, signing what the keys this
        wallet keeps must sign."""
        asked = self.call("POST", f"/wallet/issuances/{issuance_id}/fetch")
        return self._signed(asked)

    def renew(self, credential_id: str | None) -> dict[str, Any]:
        """Fresh copies of a one-time credential whose keys this wallet keeps (the named
        one, or each one due), signing every round; what each renewal gave."""
        self.login()
        listed = self.call("GET", "/wallet/credentials")["credentials"]
        chosen = [
            c
            for c in listed
            if c.get("renewed_by") == "phone"
            and (c["credential_id"] == credential_id if credential_id else c.get("renewal_due"))
        ]
        if credential_id and not chosen:
            raise WalletCommandError(
                {
                    "error": "invalid_request",
                    "error_description": "no one-time credential of this wallet has that id",
                }
            )
        renewed = []
        for credential in chosen:
            outcome = self.call(
                "POST",
                f"/wallet/credentials/{credential['credential_id']}/renew",
                {"holder_keys": self._new_holder_keys(credential["holder_keys_needed"])},
            )
            renewed.extend(self._signed(outcome)["credentials"])
        return {"renewed": renewed}

    def present(self, uri: str, *, approve: bool, decline: bool, omit: list[str]) -> dict[str, Any]:
        self.login()
        scanned = self.call("POST", "/wallet/scans", {"uri": uri})
        if scanned["kind"] != "presentation":
            raise WalletCommandError(
                {"error": "invalid_request", "error_description": "not a presentation request"}
            )
        consent = scanned["presentation"]
        presentation_id = consent["presentation_id"]
        if decline:
            return self.call("POST", f"/wallet/presentations/{presentation_id}/decline")
        if not approve:
            return {"consent": consent, "answered": False}
        result = self.call(
            "POST", f"/wallet/presentations/{presentation_id}/approve", {"omit": omit}
        )
        if result["status"] == "signatures_needed":
            result = self.call(
                "POST",
                f"/wallet/presentations/{presentation_id}/complete",
                {"signatures": self._sign(result["signing_requests"])},
            )
        return result


def run_wallet(args: argparse.Namespace) -> int:
    client = WalletClient(args.server, Path(args.wallet_file))
    try:
        if args.wallet_command == "register":
            output = client.register(args.name)
        elif args.wallet_command == "receive":
            output = client.receive(args.offer_uri, args.tx_code)
        elif args.wallet_command == "issue":
            output = client.issue(args.issuer, args.credential)
        elif args.wallet_command == "authorized":
            output = client.authorized(args.issuance_id, args.redirect_url)
        elif args.wallet_command == "pending":
            client.login()
            output = client.call("GET", "/wallet/issuances")
        elif args.wallet_command == "fetch":
            client.login()
            output = client.fetch(args.issuance_id)
        elif args.wallet_command == "list":
            client.login()
            output = client.call("GET", "/wallet/credentials")
        elif args.wallet_command == "renew":
            output = client.renew(args.credential_id)
        elif args.wallet_command == "present":
            output = client.present(
                args.request_uri, approve=args.approve, decline=args.decline, omit=args.omit
            )
        else:
            client.login()
            output = client.call("GET", "/wallet/activity")
    except WalletCommandError as exc:
        print(json.dumps(exc.body, indent=2, ensure_ascii=False))
        return 1
    print(json.dumps(output, indent=2, ensure_ascii=False))
    if args.wallet_command == "present" and output.get("outcome") == "rejected":
        return 1
    return 0
