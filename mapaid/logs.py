"""Logs that say what happened, never to whom or where: route patterns, not paths; exception types only.

A concrete path holds a viewer's cell (``/near/<cell>``) or a post's private token
(``/manage/<post_id>/<token>``); a query string holds filters and pages; an exception's message can quote
any of them (``invalid literal for int() with base 10: '…'``) or a request body. So every line we write
(the access line, Flask's exception line, waitress's lines in ``mapaid serve``) names the route pattern
and, for an exception, its type and stack frames only (file, line, function and source line: our code,
never a value). ``RedactingFilter`` enforces the same on records other code logs through our loggers.
"""

from __future__ import annotations

import logging
import re
import time
import traceback
import types
from collections.abc import Iterable

from flask import Flask, g, has_request_context, request
from flask.wrappers import Response
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map

access_log = logging.getLogger("mapaid.access")
WAITRESS_LOGGERS = ("waitress", "waitress.queue")
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


def init_app(app: Flask) -> None:
    """The access line, and the filter on every logger the app and waitress write to."""
    install([app.logger, access_log, *map(logging.getLogger, WAITRESS_LOGGERS)], app.url_map)

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _log(response: Response) -> Response:
        elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        access_log.info(
            "%s %s %s %.1fms",
            request.method,
            route_pattern(),
            response.status_code,
            elapsed,
            extra={CLEAN: True},
        )
        return response
