"""Logs that say what happened, never to whom or where: route patterns, not paths; exception types only;
by default no line at all for a request that was answered.

A concrete path holds a viewer's cell (``/near/<cell>``) or a post's private token
(``/manage/<post_id>/<token>``); a query string holds filters and pages; an exception's message can quote
any of them (``invalid literal for int() with base 10: '…'``) or a request body. So every line we write
(the access line, Flask's exception line, waitress's lines in ``mapaid serve``) names the route pattern
and, for an exception, its type and stack frames only (file, line, function and source line: our code,
never a value). ``RedactingFilter`` enforces the same on records other code logs through our loggers.

A line per request, even one naming only the route, is a record of who did what and when: the journal (or
any log collector) stamps each line with the time it arrived, to the microsecond, and the state in the
seed holds every connection's address and time, so ``POST /post`` at 18:05:28.917 names the poster. So by
default (``MAPAID_ACCESS_LOG=off``) a request leaves a line only when it failed with a 5xx, and we write no
time of day ourselves. ``hourly`` keeps counts per route pattern, method and status class, written once
an hour by a thread (never at a request's moment); ``requests`` is the old line per request, for an
operator who accepts what it records (README, "Settings").
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
import traceback
import types
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import ClassVar

from flask import Flask, g, has_request_context, request
from flask.logging import default_handler
from flask.wrappers import Response
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map

from mapaid.clock import Clock
from mapaid.config import journal_stream

access_log = logging.getLogger("mapaid.access")
traffic_log = logging.getLogger("mapaid.traffic")
WAITRESS_LOGGERS = ("waitress", "waitress.queue")
LINE_FORMAT = "%(levelname)s %(name)s %(message)s"  # no time: whatever collects the lines adds its own
TRAFFIC = "mapaid.traffic"  # app.extensions key of the app's TrafficCounts
HOUR = timedelta(hours=1)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"
CLEAN = "mapaid_clean"  # set on records built from route patterns and types only: nothing to redact
_ExcInfo = tuple[type[BaseException], BaseException, types.TracebackType | None]


def route_pattern() -> str:
    """The matched rule of the current request (``/near/<cell>``), or ``<unmatched>``."""
    return request.url_rule.rule if request.url_rule is not None else UNMATCHED


def exception_text(error: BaseException) -> str:
    """A traceback without messages: for each exception in the chain, its frames and its type.

    Messages and ``__notes__`` are left out because they quote values (a path segment, a form field, an
    SQL parameter); the frames come from the code and are what a developer needs to find the fault."""
    lines: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    chain: list[tuple[BaseException, str]] = []
    link = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, "The above exception was the direct cause of the following:"
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, "During handling of the above exception, another occurred:"
        else:
            current = None
    for exc, following in reversed(chain):
        lines.append("Traceback (most recent call last):\n")
        lines.extend(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
        lines.append(f"{_type_name(exc)} (message withheld: it may quote request data)\n")
        if following:
            lines.append(f"\n{following}\n\n")
    return "".join(lines).rstrip("\n")


def _type_name(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


class App(Flask):
    """Flask, with its exception line naming the route pattern instead of the requested path."""

    def log_exception(self, exc_info: _ExcInfo | tuple[None, None, None]) -> None:
        error = exc_info[1]
        self.logger.error(
            "Exception on %s [%s]\n%s",
            route_pattern(),
            request.method,
            exception_text(error) if error is not None else "",
            extra={CLEAN: True},
        )


class RedactingFilter(logging.Filter):
    """Rewrites a record so it holds no request data, whoever logged it.

    - an exception attached to the record becomes type and frames (``exception_text``);
    - inside a request, the concrete path, query string and every path value are replaced by the route
      pattern or ``<redacted>``;
    - waitress's lines that name a path (``Exception while serving /near/…``) name its route pattern, and
      its warning about a malformed proxy header drops the peer's address and the header's value.
    """

    def __init__(self, url_map: Map | None = None) -> None:
        super().__init__()
        self.url_map = url_map

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = exception_text(record.exc_info[1])
            record.exc_info = None
        message = self._waitress(record) if record.name.startswith("waitress") else None
        if message is None:
            message = record.getMessage()
        if has_request_context() and not getattr(record, CLEAN, False):
            message = _redact_request(message)
        record.msg, record.args = message, None
        return True

    def _waitress(self, record: logging.LogRecord) -> str | None:
        if record.msg == 'Malformed proxy header "%s" from "%s": %s value: %s' and isinstance(
            record.args, tuple
        ):
            return f'Malformed proxy header "{record.args[0]}": {record.args[2]}'
        message = record.getMessage()
        match = re.match(r"(.*? while serving )(.*)", message, re.DOTALL)
        if match:  # the rest is the decoded path, which may hold blanks or line breaks
            return f"{match[1]}{self.pattern(match[2])}"
        if message.startswith("uncaptured python exception"):
            return "uncaptured python exception, closing channel"
        return None

    def pattern(self, path: str) -> str:
        """The route pattern a concrete path matches, for lines written outside a request."""
        if self.url_map is None:
            return UNMATCHED
        adapter = self.url_map.bind("localhost")
        for method in ("GET", "POST", "DELETE"):  # the line does not say which; any rule names the route
            try:
                rule, _ = adapter.match(path.split("?", 1)[0], method=method, return_rule=True)
            except HTTPException:
                continue
            return str(rule.rule)
        return UNMATCHED


def _redact_request(message: str) -> str:
    """The message with the current request's path, query string and path values taken out."""
    pattern = route_pattern()
    secrets = [request.full_path.rstrip("?"), request.path, request.query_string.decode("latin-1")]
    secrets += [str(v) for v in (request.view_args or {}).values()]
    secrets += [v for values in request.args.listvalues() for v in values]
    for secret in sorted({s for s in secrets if len(s) >= 2}, key=len, reverse=True):
        message = message.replace(secret, pattern if secret.startswith("/") else "<redacted>")
    return message


def install(
    targets: Iterable[logging.Logger | logging.Handler], url_map: Map | None = None
) -> RedactingFilter:
    """Put one ``RedactingFilter`` on each logger or handler, replacing an earlier one (a logger's filters
    see only its own records, not its children's; a handler's see everything it writes)."""
    redacting = RedactingFilter(url_map)
    for target in targets:
        for old in [f for f in target.filters if isinstance(f, RedactingFilter)]:
            target.removeFilter(old)
        target.addFilter(redacting)
    return redacting


class TrafficCounts:
    """Answered requests per (method, route pattern, status class) since the last ``take``: what
    ``MAPAID_ACCESS_LOG=hourly`` writes once an hour. A count, nothing about a client, a path or a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str, str]] = Counter()

    def add(self, method: str, pattern: str, status: int) -> None:
        """Count one answer; a method outside HTTP's usual few counts as ``OTHER`` (a client may send any
        word there, and each new word must not make a new line, or new memory, until the hour ends)."""
        key = (method if method in METHODS else "OTHER", pattern, f"{status // 100}xx")
        with self._lock:
            self._counts[key] += 1

    def take(self) -> Counter[tuple[str, str, str]]:
        """The counts so far, starting afresh."""
        with self._lock:
            taken, self._counts = self._counts, Counter()
        return taken


def write_hour(counts: Mapping[tuple[str, str, str], int], start: datetime) -> None:
    """One line per route pattern, method and status class for the hour from ``start`` (UTC)."""
    label = f"{start:%Y-%m-%d %H}:00-{start + HOUR:%H}:00 UTC"
    for (method, pattern, status), n in sorted(counts.items()):
        traffic_log.info("%s %s %s %s %d", label, method, pattern, status, n, extra={CLEAN: True})


def hour_start(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


class TrafficWriter(threading.Thread):
    """Writes the app's ``TrafficCounts`` at each full hour by ``clock`` (the counts of the hour that
    ended), whether or not anyone is asking for a page then, until ``stop``. `mapaid serve` starts it
    with ``MAPAID_ACCESS_LOG=hourly``; a partial hour at shutdown is not written (its line would say when
    the server stopped and how much it served since the hour began)."""

    def __init__(self, counts: TrafficCounts, clock: Clock) -> None:
        super().__init__(name="mapaid-traffic", daemon=True)
        self.counts = counts
        self.clock = clock
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        written = hour_start(self.clock.now())  # the first hour ends at the next full hour
        while True:
            due = written + HOUR
            if self._stop_event.wait(max(0.0, (due - self.clock.now()).total_seconds())):
                return
            if self.clock.now() < due:  # woken early (a clock moved back): wait again
                continue
            write_hour(self.counts.take(), written)
            written = due


class LineFormatter(logging.Formatter):
    """``LINE_FORMAT``; for journald, every line (a traceback's too) starts with its syslog priority
    (``<3>``), so `journalctl -p err` and a unit's ``LogLevelMax=`` see each line's level."""

    PRIORITIES: ClassVar[dict[int, int]] = {
        logging.CRITICAL: 2,
        logging.ERROR: 3,
        logging.WARNING: 4,
        logging.INFO: 6,
    }

    def __init__(self, journal: bool) -> None:
        super().__init__(LINE_FORMAT)
        self.journal = journal

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if not self.journal:
            return text
        prefix = f"<{self.PRIORITIES.get(record.levelno, 7)}>"
        return "\n".join(prefix + line for line in text.split("\n"))


def _stderr_is_journal() -> bool:
    """Whether standard error is the journal's stream systemd gave us (systemd.exec(5): compare
    ``JOURNAL_STREAM`` with the descriptor's device and inode)."""
    expected = journal_stream()
    if expected is None:
        return False
    try:
        found = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError):
        return False
    return (found.st_dev, found.st_ino) == expected


def configure(url_map: Map) -> None:
    """`mapaid serve`'s logging: lines on standard error, without a time, redacted (``install``).

    Waitress's info lines and its queue warnings are left out: "Client disconnected while serving …"
    and "Task queue depth is N" each mark one request's moment; its warnings and errors stay."""
    handler = logging.StreamHandler()
    handler.setFormatter(LineFormatter(journal=_stderr_is_journal()))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("waitress").setLevel(logging.WARNING)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    install([handler], url_map)  # every line written, whoever logs it


def init_app(app: Flask) -> None:
    """The filter on every logger the app and waitress write to, and what a request leaves: a line for a
    5xx always; with ``MAPAID_ACCESS_LOG`` a count (``hourly``) or a line (``requests``) for every one."""
    # Flask's own handler stamps every line with the time of day wherever no handler was set up first;
    # the app's lines go where the process sends every line (``configure``), or to Python's last resort.
    app.logger.removeHandler(default_handler)
    install([app.logger, access_log, *map(logging.getLogger, WAITRESS_LOGGERS)], app.url_map)
    mode = app.extensions["mapaid.settings"].access_log
    counts = app.extensions[TRAFFIC] = TrafficCounts()

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _log(response: Response) -> Response:
        status = response.status_code
        if mode == "hourly":
            counts.add(request.method, route_pattern(), status)
        if status >= 500 or mode == "requests":
            elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
            access_log.log(
                logging.ERROR if status >= 500 else logging.INFO,
                "%s %s %s %.1fms",
                request.method,
                route_pattern(),
                status,
                elapsed,
                extra={CLEAN: True},
            )
        return response
