"""The ways an agency can use to find out who the citizen is in an authorization: those its
catalog entry allows (the national eID login, a presentation during issuance) whose
service this deployment has (the eID provider configured, the counter API wired), in that
order. One way is taken at once; with several, the citizen chooses (``sign_in_choice``).
None where development and tests declare the citizen (``IDWALLET_TEST_CITIZEN``)."""

from __future__ import annotations

from issuers.domain import Agency, SignInWay
from issuers.services.context import IssuerContext
from issuers.services.eid_login import uses_eid_login
from issuers.services.presentation_login import uses_presentation_login


def usable_ways(context: IssuerContext, agency: Agency) -> tuple[SignInWay, ...]:
    if context.declares_citizens:
        return ()
    ways = []
    if uses_eid_login(context, agency):
        ways.append(SignInWay.EID_LOGIN)
    if uses_presentation_login(context, agency):
        ways.append(SignInWay.PRESENTATION_LOGIN)
    return tuple(ways)
