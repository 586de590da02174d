"""What a role appends to the audit trail, and the port it appends through.

Vocabulary (``action`` names, dotted, past tense; ``outcome`` is ``"ok"`` or the error
code of the spec that refused, ``access_denied`` for a citizen who declined):

=================================  ==========  ==========================================
action                             actor_kind  facts
=================================  ==========  ==========================================
``offer.created``                  operator    credential_configuration
``credential.issued``              agency      credential_configuration, format
``credential.revoked``             operator    credential_configuration
``credential.suspended``           operator    credential_configuration
``credential.reinstated``          operator    credential_configuration
``application.approved``           operator    credential_configuration (a clerk's
``application.refused``                        decision on an application)
``register.read``                  agency      register, purpose, credential_configuration
``presentation.requested``         counter     claims, purpose, template
``presentation.answered``          counter     claims, purpose, template (outcome: ok,
                                               access_denied, or the verifier's error)
``presentation.refused``           counter     claims, purpose, template (went beyond the
                                               counter's registration)
``protocol.refused``               agency or   endpoint (the path template after the
                                   counter     tenant; outcome: the error code answered)
``wallet.device_added``            citizen     (none; the account as ``subject_key``)
``mediation.*``                    mediator    space, action
``oversight.*``                    auditor     period, what was read
``auditor.registered``             deployment  auditor (actor ``administrator``: the
``auditor.key_replaced``                       command line, ``idwallet auditor``)
``auditor.removed``
``audit.sealed``                   deployment  through (the last position read; actor
``audit.exported``                             ``administrator``, ``idwallet audit``;
``audit.verified``                             verified: outcome ok or the break's kind)
``key.*``                          deployment  owner_kind, owner, kid
=================================  ==========  ==========================================

Facts are flat: a string, an integer, or a tuple of strings (``claims`` sorted), so that
the oversight aggregates can group by them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

FactValue = str | int | tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited action. ``actor`` names an organisation or a registered person acting
    for one (an agency, a counter, an auditor, a mediator), never a citizen; a citizen's
    own actions have ``actor_kind="citizen"`` and an empty ``actor``."""

    actor_kind: str
    actor: str
    action: str
    outcome: str = "ok"
    facts: Mapping[str, FactValue] = field(default_factory=dict)
    #: A keyed hash of the citizen's account (the key is erased with the account), or None.
    subject_key: str | None = None


class AuditTrail(Protocol):
    async def append(self, entry: AuditEntry) -> None:
        """Appends ``entry`` (the trail stamps the time and chains it)."""
        ...
