"""mapaid/holds.py: after a refusal of the read limit, `mapaid serve` does not read that client for a
moment, and no one else is held (tests/test_export_flood.py shows what it is for: without it the
refusals alone took /near to 4.7 times its quiet time)."""

from __future__ import annotations

import socket

from waitress.channel import HTTPChannel
from waitress.server import create_server

from mapaid import serving
from mapaid.holds import Holds


def test_a_refused_client_is_held_for_its_moment_and_no_one_else() -> None:
    now = [100.0]
    holds = Holds(1.0, clock=lambda: now[0])
    holds.hold("203.0.113.5")
    holds.hold("2001:db8:1:2::1")
    assert holds.held("203.0.113.5") and not holds.held("203.0.113.6")
    assert holds.held("2001:db8:1:2::99")  # one home: its /56 (mapaid.clients)
    assert not holds.held("2001:db8:1:300::1")
    assert all("203.0.113" not in key and "2001" not in key for key in holds._until)  # keyed hashes only
    now[0] += 1.01
    assert not holds.held("203.0.113.5") and not holds.held("2001:db8:1:2::1")


def test_a_held_clients_connection_is_not_read_until_its_moment_passes() -> None:
    now = [0.0]
    holds = Holds(1.0, clock=lambda: now[0])
    server = create_server(lambda e, s: [], host="127.0.0.1", port=0, _start=False)
    try:
        serving.hold_refused(server, holds)
        assert issubclass(server.channel_class, HTTPChannel)
        ours, theirs = socket.socketpair()
        try:
            channel = server.channel_class(server, ours, ("127.0.0.1", 50000), server.adj, map={})
            other = server.channel_class(server, theirs, ("127.0.0.9", 50001), server.adj, map={})
            assert channel.readable() and other.readable()
            holds.hold("127.0.0.1")
            assert not channel.readable() and other.readable()
            now[0] = 1.5
            assert channel.readable()
        finally:
            ours.close()
            theirs.close()
    finally:
        server.close()
