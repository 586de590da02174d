"""A stored credential's two sealed parts: the whole record (its credentials, claims and
renewal state) and the listing that shows it in the citizen's list (``CredentialListing``).
Both are sealed under the account's data key whenever the record changes; a list of
credentials opens only the listings (names and displays, about 2 KB with every language's)
where a record holds every credential of its batch."""

from __future__ import annotations

import msgspec

from wallet.domain import CredentialListing, CredentialRecord, StoredCredential
from wallet.services.sealing import AccountBox

_RECORD = "credential"
_LISTING = "credential-listing"
_LISTING_DECODER = msgspec.json.Decoder(CredentialListing)


def open_record(box: AccountBox, stored: StoredCredential) -> CredentialRecord:
    return CredentialRecord.from_json(box.open(_RECORD, stored.credential_id, stored.sealed))


def seal_record(box: AccountBox, credential_id: str, record: CredentialRecord) -> bytes:
    return box.seal(_RECORD, credential_id, record.to_json())


def seal_listing(box: AccountBox, credential_id: str, listing: CredentialListing) -> bytes:
    return box.seal_bytes(_LISTING, credential_id, msgspec.json.encode(listing))


def open_listing(box: AccountBox, credential_id: str, sealed: bytes) -> CredentialListing:
    # authenticated, so written by this wallet; typed, so only the listing's own fields
    return _LISTING_DECODER.decode(box.open_bytes(_LISTING, credential_id, sealed))
