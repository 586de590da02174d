"""The demo citizen space and its mediator (docs/mediators.md), in development only, so that
``make run`` opens the mediator screen ``/mediator`` at once: at first start one space
(:data:`DEMO_SPACE`) and one mediator (:data:`DEMO_MEDIATOR_ID`) are registered in the
deployment's database, the mediator's key written into the git-ignored ``var/``
(:data:`DEMO_MEDIATOR_KEY_FILE`, mode 0600) like the other demo keys. In production nothing
is seeded (spaces and mediators are registered with ``idwallet mediator``).

Several workers starting at once agree: the key file is made under the ``var/`` lock, and
each registration is a single-winner insert (the id is the row's primary key; a loser is
told the id is taken and goes on). Restarts add nothing. A database not reachable at
start is not waited for: the next start registers them."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from app.bootstrap import locked_var_dir, write_private_file
from app.settings import Settings, SettingsError
from wallet.domain import MediationSpace
from wallet.ports import Mediations
from wallet.services.mediators import KEY_BYTES, secret_hash

DEMO_SPACE = MediationSpace("espaco-cidadao-demo", "Espaço Cidadão Demo", ("pt", "en"))
DEMO_MEDIATOR_ID = "demo-mediator"
DEMO_MEDIATOR_NAME = "Ana Sousa"
DEMO_MEDIATOR_KEY_FILE = "demo-mediator-key"

log = logging.getLogger("idwallet.start")


def demo_mediator_key_path(settings: Settings) -> Path:
    return settings.var_dir / DEMO_MEDIATOR_KEY_FILE


def load_demo_mediator_key(settings: Settings) -> str:
    """The demo mediator's key from ``var/``, made at first call."""
    path = demo_mediator_key_path(settings)
    with locked_var_dir(settings.var_dir):
        if not path.exists():
            write_private_file(path, (secrets.token_urlsafe(KEY_BYTES) + "\n").encode("ascii"))
        key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise SettingsError(f"{path} must hold a key of at least 32 characters")
    return key


async def seed_demo_mediator(settings: Settings, mediations: Mediations) -> None:
    """Register the demo space and mediator where they are not yet (development only)."""
    if settings.is_production:
        return
    key = load_demo_mediator_key(settings)
    try:
        await mediations.add_space(DEMO_SPACE)  # False: there already
        await mediations.add_mediator(
            DEMO_MEDIATOR_ID,
            DEMO_SPACE.space_id,
            DEMO_MEDIATOR_NAME,
            DEMO_SPACE.languages,
            secret_hash(key),
        )
        opened = await mediations.mediator_by_key(secret_hash(key))
    except (SQLAlchemyError, OSError) as exc:
        # the database is not reachable yet: the app starts all the same (/ready says so)
        log.warning("demo mediator not registered (next start): %s", type(exc).__name__)
        return
    if opened is None:
        # The database outlived var/ (or the mediator was registered by hand): the key in
        # var/ opens nothing; a mediator of one's own is one command away.
        log.warning(
            "the demo mediator key in %s does not open %s in this database;"
            " register a mediator with idwallet mediator add (docs/mediators.md)",
            demo_mediator_key_path(settings),
            DEMO_MEDIATOR_ID,
        )
