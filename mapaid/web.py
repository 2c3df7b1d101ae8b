"""What every page shares: CSRF protection, languages, our own static assets, security headers and
error answers (JSON under /api/, a page elsewhere; never a stack trace).

An error page speaks the visitor's language: a lower layer's ``Message`` is translated here, and
werkzeug's own English descriptions (a 404 with none given) are replaced by ours. JSON answers keep
their English messages, which API clients may match on (the 429 and 500 texts, shared with the
pages, follow the request's language, as the 429 did before)."""

from __future__ import annotations

from flask import Flask, make_response, render_template, request
from flask.wrappers import Response
from flask_babel import gettext
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException, InternalServerError, default_exceptions

from mapaid import assets, csp, i18n, ogcapi, public
from mapaid.queryargs import BadArgument

csrf = CSRFProtect()
API_PREFIX = "/api/"


def _error_response(error: HTTPException) -> Response:
    code = error.code or 500
    if request.path.startswith(API_PREFIX):
        from flask import jsonify

        field = getattr(error, "field", None)
        response = jsonify(error=error.description or error.name, field=field)
        response.status_code = code
        return _keep_headers(error, response)
    ogc = _ogcapi_error(code, error)
    if ogc is not None:
        return _keep_headers(error, ogc)
    response = make_response(render_template("error.html", code=code, message=_page_message(error)), code)
    return _keep_headers(error, response)


def _keep_headers(error: HTTPException, response: Response) -> Response:
    """The error's own headers (``Allow`` on a 405, ``Content-Range`` on a 416), which werkzeug's default
    page would carry and ours would otherwise drop."""
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _ogcapi_error(code: int, error: HTTPException) -> Response | None:
    """Under /ogcapi a JSON client gets the OGC exception shape; a browser (f=html, Accept) our page."""
    if not ogcapi.is_ogcapi(request.path):
        return None
    try:
        html = ogcapi.representation() == "html"
    except HTTPException:  # a bad f= is itself answered in JSON
        html = False
    return None if html else ogcapi.error_response(code, _page_message(error))


def as_http(error: BadArgument, status: int | None = None) -> HTTPException:
    """The HTTP error a bad argument answers with (its own status unless ``status`` is given), carrying the
    field for the JSON answer and the ``Message`` for the page, which translates it."""
    http = default_exceptions[status or error.status](description=error.message)
    http.field = error.field  # type: ignore[attr-defined]
    return http


def _page_message(error: HTTPException) -> str:
    """What an error page says: the description in the visitor's language."""
    description = error.description
    if not description or description == type(error).description:
        return _default_message(error.code or 500)
    return i18n.translate(description)


def _default_message(code: int) -> str:
    """Our words for werkzeug's default descriptions (English only), by status."""
    messages = {
        400: lambda: gettext("The request could not be understood; check the address or the form."),
        401: lambda: gettext("Log in as a coordinator first."),
        403: lambda: gettext("That is not allowed."),
        404: lambda: gettext("There is nothing at this address. Check it, or start again from the map."),
        405: lambda: gettext("This address does not take that kind of request."),
        413: lambda: gettext("That is more than this site takes at once."),
        429: lambda: gettext("Too many requests in a short time; please try again in a minute."),
    }
    made = messages.get(code)
    return str(made() if made else gettext("Something went wrong on our side; nothing was changed."))


def _nonce_page(response: Response) -> str | None:
    """Give an HTML page its own nonce (see csp.py); None for everything else (JSON, files, streams),
    whose policy then allows no inline script or style at all."""
    if response.mimetype != "text/html" or response.direct_passthrough or response.is_streamed:
        return None
    nonce = csp.new_nonce()
    response.set_data(csp.fill(response.get_data(), nonce))
    return nonce


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    i18n.init_app(app)
    app.register_blueprint(assets.bp)
    tiles = app.extensions["mapaid.settings"].tiles
    public.init_app(app)  # registered first, so it runs after _headers has filled the page's nonce

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = csp.policy(tiles, _nonce_page(response))
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        return _error_response(error)

    @app.errorhandler(BadArgument)
    def _bad_argument(error: BadArgument) -> Response | tuple[str, int]:
        return _error_response(as_http(error))

    @app.errorhandler(CSRFError)
    def _csrf_error(error: CSRFError) -> Response:
        error.description = gettext(
            "The form expired or came from another site; reload the page and try again."
        )
        return _error_response(error)

    @app.errorhandler(InternalServerError)
    def _server_error(error: InternalServerError) -> Response:
        error.description = gettext("Something went wrong on our side; nothing was changed.")
        return _error_response(error)
