"""Changes any process of the deployment commits to rarely changing rows, heard by every
worker as they commit (PostgreSQL ``LISTEN``/``NOTIFY``), so that a worker may keep what
it read of them until they change instead of reading them again on every request.

A trigger on the table sends ``NOTIFY`` in the transaction of every change, whoever makes
it: PostgreSQL delivers it when, and only if, the transaction commits, to every connection
listening.
Each worker holds one such connection (``ChangeFeed.run``) and counts what it hears per
topic (the notification's payload: ``keys``, ``sessions``); a reader keeps a value with
the ``stamp`` of its topic it read it under and uses it only while the feed is ``live``
and the stamp unchanged. Every stamp also moves whenever the listening connection is lost
or made again, since changes may have gone unheard meanwhile, and while it is down every
read goes to the database, as it does on SQLite, where there is no feed and nothing is
kept.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

import asyncpg
from sqlalchemy import DDL, Table, event
from sqlalchemy.engine import make_url

log = logging.getLogger("idwallet.changes")

CHANNEL = "idwallet_changes"
#: What a notification's payload names (anything else moves every stamp).
KEYS = "keys"
SESSIONS = "sessions"
#: A feed's check that it hears: its own payload starts so.
PROBE = "probe:"
#: Seconds between two checks that the listening connection still hears what is sent on
#: the channel (a probe of its own), and the longest each may take: a connection silently
#: gone (a network cut), or one that cannot hear, stops the keeping.
CHECK_EVERY = 15.0
CHECK_TIMEOUT = 5.0
#: Seconds before the connection is tried again after it was lost or refused.
RETRY_AFTER = 1.0


class ChangeFeed:
    """This worker's ear on ``CHANNEL``: ``live`` while it listens, each topic's ``stamp``
    moved by every change to it heard (and by this process's own, at once: ``changed``),
    every stamp by a connection lost or made."""

    def __init__(self, database_url: str) -> None:
        self._dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
        #: Connections made and lost, and changes heard to anything but a known topic.
        self.epoch = 0
        self._topics: dict[str, int] = {}
        self.live = False
        #: The database's process serving the listening connection, while there is one.
        self.server_pid: int | None = None
        self._lost = asyncio.Event()
        self._probe = ""
        self._probe_heard = asyncio.Event()
        self._deaf = False

    @property
    def generation(self) -> int:
        """Moved by every change heard, every connection made or lost."""
        return self.epoch + sum(self._topics.values())

    def stamp(self, topic: str) -> tuple[int, int]:
        """Unchanged as long as nothing of ``topic`` changed and the feed kept listening."""
        return self.epoch, self._topics.get(topic, 0)

    def changed(self, topic: str) -> None:
        """A change this process committed: what was kept is stale now, whether or not
        the notification has come back yet."""
        self._topics[topic] = self._topics.get(topic, 0) + 1

    def _heard(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload in (KEYS, SESSIONS):
            self.changed(payload)
        elif payload.startswith(PROBE):
            if payload == self._probe:
                self._probe_heard.set()  # any feed's probe is heard by all: only its own
        else:
            self.epoch += 1

    async def _hears_itself(self, connection: asyncpg.Connection) -> None:
        """Send a probe of its own on the channel and hear it come back, or fail: a
        connection that listens but hears nothing (through a pooler in transaction mode,
        say) must never let a worker keep what may have changed."""
        self._probe = f"{PROBE}{secrets.token_hex(8)}"
        self._probe_heard.clear()
        await connection.execute(f"SELECT pg_notify('{CHANNEL}', $1)", self._probe)
        await asyncio.wait_for(self._probe_heard.wait(), timeout=CHECK_TIMEOUT)

    def _connection_lost(self, *_: Any) -> None:
        self.live = False
        self.server_pid = None
        self.epoch += 1
        self._lost.set()

    async def run(self) -> None:
        """Listen until cancelled, connecting again whenever the connection is lost."""
        while True:
            connection = None
            try:
                connection = await asyncpg.connect(self._dsn, timeout=CHECK_TIMEOUT)
                self._lost.clear()
                connection.add_termination_listener(self._connection_lost)
                await connection.add_listener(CHANNEL, self._heard)
                await self._hears_itself(connection)
                self.server_pid = connection.get_server_pid()
                # anything read before now may have changed unheard
                self.epoch += 1
                self.live = True
                if self._deaf:
                    log.info("hearing changes again")
                    self._deaf = False
                await self._watch(connection)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: read on every call meanwhile
                if not self._deaf:  # once per outage, not once per attempt
                    log.warning(
                        "not hearing changes (%s); reading on every call", type(exc).__name__
                    )
                self._deaf = True
            finally:
                self._connection_lost()
                if connection is not None and not connection.is_closed():
                    connection.terminate()
            await asyncio.sleep(RETRY_AFTER)

    async def _watch(self, connection: asyncpg.Connection) -> None:
        while not self._lost.is_set():
            try:
                await asyncio.wait_for(self._lost.wait(), timeout=CHECK_EVERY)
            except TimeoutError:
                await self._hears_itself(connection)


def notice_trigger(table: str, topic: str, events: str) -> tuple[str, str]:
    """The PostgreSQL function and trigger that tell every feed of ``events`` on ``table``
    (``INSERT OR UPDATE OR DELETE``, say) as the transaction commits, payload ``topic``."""
    function = f"idwallet_{table}_changed"
    return (
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS"
        f" $$ BEGIN PERFORM pg_notify('{CHANNEL}', '{topic}'); RETURN NULL; END $$",
        f"CREATE TRIGGER {table}_changed AFTER {events} ON {table}"
        f" FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    )


def announce_changes(table: Table, topic: str, events: str) -> tuple[str, str]:
    """``notice_trigger`` made with ``table`` wherever the models create it (tests, a
    first start); migrations run the statements it returns."""
    statements = notice_trigger(table.name, topic, events)
    for statement in statements:
        ddl = DDL(statement).execute_if(dialect="postgresql")  # type: ignore[no-untyped-call]
        event.listen(table, "after_create", ddl)
    return statements
