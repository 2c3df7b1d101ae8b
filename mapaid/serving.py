"""How `mapaid serve` runs waitress so that idle or half-open connections cannot stop the site.

Waitress's defaults let 100 connections in and keep an idle one for 120 s: 110 half-open connections were
enough to make the site wait two minutes for everyone. Waitress reads requests in one asynchronous loop
and hands only complete requests to its threads, so an idle connection costs a file descriptor and a few
kilobytes, not a thread. So we raise the process's open-file limit to what the system allows, admit as
many connections as it leaves room for (``poll``, not ``select``, which stops at descriptor 1024), and
close a connection that sends nothing for ``CHANNEL_TIMEOUT`` seconds. On the internet, put a reverse
proxy in front (docs/deploy.md): it holds slow clients and cuts slow uploads before they reach us.

A request waiting for a thread is not idle: waitress counts a connection as idle only when it holds no
complete request (``maintenance`` skips channels with ``requests``), so a queue deeper than the timeout
is answered in full (tests/test_serve_limits.py holds that against a waitress upgrade).
"""

from __future__ import annotations

import resource
from typing import Any

from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer

from mapaid.holds import Holds

CHANNEL_TIMEOUT = 20  # s without a byte before an idle connection is closed (waitress: 120)
CLEANUP_INTERVAL = 5  # s between sweeps for such connections (waitress: 30)
MAX_CONNECTIONS = 10_000  # enough for one machine; memory, not descriptors, is the limit beyond
RESERVED_FDS = 256  # for the database and its WAL per thread, logs, libraries, the listening socket
MAX_BODY = 1024 * 1024  # bytes; the app takes 64 KiB, waitress would buffer up to 1 GB first
MAX_HEADERS = 64 * 1024  # bytes of request headers (waitress: 256 KiB)
DEFAULT_THREADS = 8  # pages take milliseconds; more threads only queue on SQLite's one writer


def raise_open_files() -> int:
    """Raise this process's soft limit on open files to its hard limit; return the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65_536)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):  # some containers refuse; keep what we have
            pass
    return soft if soft != resource.RLIM_INFINITY else MAX_CONNECTIONS + RESERVED_FDS


def connection_limit(open_files: int) -> int:
    """Connections to admit with ``open_files`` descriptors: all but a reserve, at least waitress's 100."""
    return max(100, min(MAX_CONNECTIONS, open_files - RESERVED_FDS))


def waitress_options(threads: int, open_files: int, trusted_proxies: int) -> dict[str, Any]:
    """Keyword arguments for ``waitress.serve``."""
    return {
        "threads": threads,
        "connection_limit": connection_limit(open_files),
        "channel_timeout": CHANNEL_TIMEOUT,
        "cleanup_interval": CLEANUP_INTERVAL,
        "asyncore_use_poll": True,
        "max_request_body_size": MAX_BODY,
        "max_request_header_size": MAX_HEADERS,
        # Waitress drops X-Forwarded-* unless it trusts a proxy itself; the app's ProxyFix decides instead
        # (MAPAID_TRUSTED_PROXIES), so with trusted proxies waitress passes the headers on.
        "clear_untrusted_proxy_headers": trusted_proxies == 0,
        "ident": "mapaid",
    }


def addresses(server: Any) -> list[str]:
    """The URLs a waitress server (``create_server``'s: one socket or several) listens on, with the port
    the system gave for ``--port 0``."""
    listen = getattr(server, "effective_listen", None) or [(server.effective_host, server.effective_port)]
    return [f"http://{f'[{host}]' if ':' in str(host) else host}:{port}/" for host, port in listen]


def held_channel(holds: Holds) -> type[HTTPChannel]:
    """Waitress's connection, not read while ``holds`` holds its client (mapaid/holds.py)."""

    class HeldChannel(HTTPChannel):
        def readable(self) -> bool:
            return bool(super().readable()) and not holds.held(str(self.addr[0]))

    return HeldChannel


def hold_refused(server: Any, holds: Holds) -> None:
    """Make every listening socket of ``server`` (waitress's ``create_server``) accept held channels."""
    listeners = [server] if isinstance(server, BaseWSGIServer) else list(server.map.values())
    for listener in listeners:
        if isinstance(listener, BaseWSGIServer):
            listener.channel_class = held_channel(holds)
