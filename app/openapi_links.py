"""How the answers of the citizen mobile API lead to the next call, in the OpenAPI document
(OpenAPI 3.1 Link Objects on the success responses).

A phone follows a citizen's journey: what it scanned becomes an offer to accept or a
presentation to approve or decline (``offer_id``, ``presentation_id`` into the path), a
listed credential is read or deleted, a registered or listed device is revoked, a session's
refresh token is rotated. Each link names the operation it leads to by its ``operationId``
and fills that operation's path parameters (or body) from the answer with an OpenAPI
runtime expression; clients and test tools such as Schemathesis' stateful mode walk the API
along them.

The framework has no option for links: ``document_links`` gives the source operations an
``Operation`` class that adds them when the document is built. A link whose source
operation or response is missing stops the build instead of vanishing from the document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Litestar
from litestar.openapi.spec import Link, OpenAPIResponse, Operation
from litestar.routes import HTTPRoute


def _link(operation_id: str, description: str, body: Any = None, **parameters: str) -> Link:
    return Link(
        operation_id=operation_id,
        parameters=parameters or None,
        request_body=body,
        description=description,
    )


def _after_a_session(status: int) -> dict[int, dict[str, Link]]:
    """A new session (registration, login, refresh): rotate it, or revoke the device."""
    return {
        status: {
            "refreshSession": _link(
                "refreshSession",
                "Rotate the single-use refresh token for a new session.",
                body={"refresh_token": "$response.body#/refresh_token"},
            ),
            "revokeDevice": _link(
                "revokeDevice",
                "Revoke this session's device.",
                device_id="$response.body#/device_id",
            ),
        }
    }


def _accept(expression: str) -> Link:
    return _link(
        "acceptOffer",
        "Accept the offer, the wallet service keeping the holder keys (add the transaction "
        "code when the offer asks for one).",
        body={"custody": "server"},
        offer_id=expression,
    )


def _approve(expression: str) -> Link:
    return _link(
        "approvePresentation",
        "Consent: present what is asked, with the credentials the wallet picks.",
        body={},
        presentation_id=expression,
    )


def _decline(expression: str) -> Link:
    return _link(
        "declinePresentation",
        "Refuse: nothing is shared and the verifier is told.",
        presentation_id=expression,
    )


def _read_received(expression: str) -> Link:
    return _link("getCredential", "Show the credential just received.", credential_id=expression)


#: Links by source operationId, then by the status code of the response they follow.
MOBILE_LINKS: dict[str, dict[int, dict[str, Link]]] = {
    "registerAccount": _after_a_session(201),
    "login": _after_a_session(200),
    "refreshSession": _after_a_session(200),
    "consentToMediation": {
        201: {
            "endMediation": _link(
                "endMediation",
                "End the mediation just started: the mediator's next action is refused.",
                mediation_id="$response.body#/mediation_id",
            )
        }
    },
    "listMediations": {
        200: {
            "endMediation": _link(
                "endMediation",
                "End the first listed mediation.",
                mediation_id="$response.body#/mediations/0/mediation_id",
            )
        }
    },
    "listDevices": {
        200: {
            "revokeDevice": _link(
                "revokeDevice",
                "Revoke the first listed device (a lost phone).",
                device_id="$response.body#/devices/0/device_id",
            )
        }
    },
    "addDevice": {
        201: {
            "revokeDevice": _link(
                "revokeDevice",
                "Revoke the device just added.",
                device_id="$response.body#/device_id",
            )
        }
    },
    "listCredentials": {
        200: {
            "getCredential": _link(
                "getCredential",
                "Show the first listed credential: claims, display data, live status.",
                credential_id="$response.body#/credentials/0/credential_id",
            ),
            "deleteCredential": _link(
                "deleteCredential",
                "Delete the first listed credential.",
                credential_id="$response.body#/credentials/0/credential_id",
            ),
            "renewCredential": _link(
                "renewCredential",
                "renewal_due with renewed_by phone: ask for fresh copies of the first listed "
                "credential.",
                credential_id="$response.body#/credentials/0/credential_id",
            ),
        }
    },
    "getCredential": {
        200: {
            "deleteCredential": _link(
                "deleteCredential",
                "Delete the credential shown.",
                credential_id="$response.body#/credential_id",
            ),
            "renewCredential": _link(
                "renewCredential",
                "renewal_due with renewed_by phone: ask for fresh copies of the credential.",
                credential_id="$response.body#/credential_id",
            ),
        }
    },
    "renewCredential": {
        200: {
            "completeOffer": _link(
                "completeOffer",
                "proofs_needed: send the phone's signatures over the signing requests.",
                offer_id="$response.body#/offer_id",
            ),
        }
    },
    "scan": {
        201: {
            "acceptOffer": _accept("$response.body#/offer/offer_id"),
            "approvePresentation": _approve("$response.body#/presentation/presentation_id"),
            "declinePresentation": _decline("$response.body#/presentation/presentation_id"),
        }
    },
    "openOffer": {201: {"acceptOffer": _accept("$response.body#/offer_id")}},
    "acceptOffer": {
        200: {
            "completeOffer": _link(
                "completeOffer",
                "proofs_needed: send the phone's signatures over the signing requests.",
                offer_id="$response.body#/offer_id",
            ),
            "getCredential": _read_received("$response.body#/credentials/0/credential_id"),
        }
    },
    "completeOffer": {
        200: {"getCredential": _read_received("$response.body#/credentials/0/credential_id")}
    },
    "finishAuthorization": {
        200: {
            "completeOffer": _link(
                "completeOffer",
                "proofs_needed: send the phone's signatures over the signing requests.",
                offer_id="$response.body#/offer_id",
            ),
            "fetchDeferredCredentials": _link(
                "fetchDeferredCredentials",
                "pending: ask the issuer now for the credentials it deferred.",
                issuance_id="$response.body#/offer_id",
            ),
            "getCredential": _read_received("$response.body#/credentials/0/credential_id"),
        }
    },
    "openPresentation": {
        201: {
            "approvePresentation": _approve("$response.body#/presentation_id"),
            "declinePresentation": _decline("$response.body#/presentation_id"),
        }
    },
    "approvePresentation": {
        200: {
            "completePresentation": _link(
                "completePresentation",
                "signatures_needed: send the phone's key-binding signatures.",
                presentation_id="$response.body#/presentation_id",
            )
        }
    },
    "listNotifications": {
        200: {
            "markNotificationRead": _link(
                "markNotificationRead",
                "Mark the newest notification read.",
                notification_id="$response.body#/notifications/0/notification_id",
            )
        }
    },
    "subscribePush": {
        201: {
            "unsubscribePush": _link(
                "unsubscribePush",
                "Remove the browser's push subscription just made.",
                subscription_id="$response.body#/subscription_id",
            )
        }
    },
    "listPushSubscriptions": {
        200: {
            "unsubscribePush": _link(
                "unsubscribePush",
                "Remove the first browser listed.",
                subscription_id="$response.body#/subscriptions/0/subscription_id",
            )
        }
    },
}


@dataclass
class LinkedOperation(Operation):
    """An operation whose success responses carry the links of ``MOBILE_LINKS``."""

    def __post_init__(self) -> None:
        for status, links in MOBILE_LINKS.get(self.operation_id or "", {}).items():
            answer = (self.responses or {}).get(str(status))
            if not isinstance(answer, OpenAPIResponse):
                raise LookupError(f"{self.operation_id} documents no {status} response to link")
            answer.links = {**(answer.links or {}), **links}


def document_links(app: Litestar) -> None:
    """Give the source operations of ``MOBILE_LINKS`` their links (before the document is
    built); a source operationId that no operation of ``app`` has is an error."""
    placed: set[str] = set()
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if isinstance(handler.operation_id, str) and handler.operation_id in MOBILE_LINKS:
                handler.operation_class = LinkedOperation
                placed.add(handler.operation_id)
    if missing := sorted(set(MOBILE_LINKS) - placed):
        raise LookupError(f"links from operations that do not exist: {', '.join(missing)}")
