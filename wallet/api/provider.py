"""The deployment as wallet provider, described for issuers' operators: the CA its
wallet instances' attestations chain to, and the levels they attest. Public and cached."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from msgspec import to_builtins

from wallet.api.requests import wallet_context
from wallet.domain import NotFound
from wallet.services.provider_messages import WALLET_PROVIDER_EXAMPLE, WalletProviderDocument
from wallet.services.wallet_provider import describe

PROVIDER_CACHE = "public, max-age=300"


class WalletProviderController(Controller):
    path = "/wallet"
    tags = ["citizen mobile API"]  # noqa: RUF012 - litestar reads a list
    opt = {"rate_limit": "metadata"}  # noqa: RUF012 - the rate-limit class (app.rate_limits)

    @get(
        "/provider",
        opt={"errors": (404,)},
        summary="This wallet's provider: the CA issuers trust for its attestations",
        operation_id="getWalletProvider",
        responses={
            200: ResponseSpec(
                WalletProviderDocument,
                generate_examples=False,
                examples=[Example(value=to_builtins(WALLET_PROVIDER_EXAMPLE))],
                description="The wallet-provider CA, the attestation signing certificate, "
                "and the key attestation levels for each key custody",
            )
        },
    )
    async def provider(self, state: State) -> Response[WalletProviderDocument]:
        context = wallet_context(state)
        provider = context.wallet_provider
        if provider is None:
            raise NotFound("this deployment attests no wallet instances")
        return Response(
            describe(provider, context.server_keys.new_in),
            headers={"Cache-Control": PROVIDER_CACHE},
        )
