"""Which worker process of a real ``idwallet serve --workers N`` answered a request: the one
holding the server end of the request's TCP connection, found through Linux's ``/proc``
(the connection's socket inode in ``/proc/net/tcp``, and which of the server's processes
has a descriptor on it). Tests use it to know that each worker took part, rather than
hoping the kernel spread the connections."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

PROC = Path("/proc")
ESTABLISHED = "01"


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # the command may hold spaces and parentheses: the fields follow the last ")"
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.add(int(entry.name))
    return found


def _descendants(pid: int) -> set[int]:
    found, frontier = set(), {pid}
    while frontier:
        children = set().union(*(_children(p) for p in frontier)) - found
        found |= children
        frontier = children
    return found


def _server_end_inode(server_port: int, client_port: int) -> str | None:
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            if (
                state == ESTABLISHED
                and int(local.rsplit(":", 1)[1], 16) == server_port
                and int(remote.rsplit(":", 1)[1], 16) == client_port
            ):
                return inode
    return None


def worker_of(server_pid: int, server_port: int, response: httpx.Response) -> int:
    """The pid of the worker that answered ``response`` (its connection still open, as a
    kept-alive connection of an ``httpx.Client`` is)."""
    stream = response.extensions["network_stream"]
    client_port = int(stream.get_extra_info("client_addr")[1])
    inode = _server_end_inode(server_port, client_port)
    assert inode is not None, f"no server end of the connection from port {client_port}"
    link = f"socket:[{inode}]"
    for pid in _descendants(server_pid):
        try:
            descriptors = os.listdir(PROC / str(pid) / "fd")
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                if os.readlink(PROC / str(pid) / "fd" / descriptor) == link:
                    return pid
            except OSError:
                continue
    raise AssertionError(f"no process of server {server_pid} holds {link}")
