"""The outbound bounds and the status list revalidation interval as settings, and the
verifier's issuer metadata source: a metadata fetch that fails (a slow peer, an address the
guard refuses) fails the trust check of the presentation, with the reason."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.settings import Settings, SettingsError
from app.verifier_wiring import issuer_metadata_source
from core.http.client import OutboundClient
from core.http.published_documents import PublishedDocuments
from core.sdjwt_vc.issuer_keys import IssuerKeyError, MetadataIssuerKeys
from tests.support.slow_peers import SlowPeer, running_slow_peer


def test_outbound_settings() -> None:
    defaults = Settings.from_env({})
    assert (defaults.outbound_deadline, defaults.outbound_min_rate) == (10, 1024)
    assert defaults.status_list_revalidate == 10
    chosen = Settings.from_env(
        {
            "IDWALLET_OUTBOUND_DEADLINE": "30",
            "IDWALLET_OUTBOUND_MIN_RATE": "0",
            "IDWALLET_STATUS_LIST_REVALIDATE": "0",
        }
    )
    assert (chosen.outbound_deadline, chosen.outbound_min_rate) == (30, 0)
    assert chosen.status_list_revalidate == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OUTBOUND_DEADLINE", "0"),
        ("OUTBOUND_DEADLINE", "ten"),
        ("OUTBOUND_MIN_RATE", "-1"),
        ("STATUS_LIST_REVALIDATE", "-1"),
    ],
)
def test_invalid_outbound_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"IDWALLET_{name}"):
        Settings.from_env({f"IDWALLET_{name}": value})


@pytest.fixture
def peer() -> Iterator[SlowPeer]:
    with running_slow_peer() as running:
        yield running


@pytest.mark.parametrize(
    ("issuer", "reason"),
    [
        ("https://{peer}/endless-headers", "did not answer within 2 s"),  # no TLS ever
        ("https://10.0.0.1/issuer", "public addresses only"),
    ],
)
async def test_unfetchable_issuer_metadata_fails_the_trust_check(
    peer: SlowPeer, issuer: str, reason: str
) -> None:
    issuer = issuer.format(peer=peer.exception)
    client = OutboundClient(exceptions=[peer.exception], deadline=2)
    keys = MetadataIssuerKeys(
        issuer_metadata_source(PublishedDocuments(client)), trusted_issuers=[issuer]
    )
    with pytest.raises(IssuerKeyError, match=f"metadata could not be fetched.*{reason}"):
        await keys.resolve({"kid": "k"}, {"iss": issuer})
    await client.close()
