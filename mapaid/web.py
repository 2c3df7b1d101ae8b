"""What every page shares: CSRF protection, languages, our own static assets, security headers and
error answers (JSON under /api/, a page elsewhere; never a stack trace)."""

from __future__ import annotations

from flask import Flask, render_template, request
from flask.wrappers import Response
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException, InternalServerError

from mapaid import assets, csp, i18n

csrf = CSRFProtect()
API_PREFIX = "/api/"


def _error_response(error: HTTPException) -> Response | tuple[str, int]:
    code = error.code or 500
    if request.path.startswith(API_PREFIX):
        from flask import jsonify

        field = getattr(error, "field", None)
        response = jsonify(error=error.description or error.name, field=field)
        response.status_code = code
        return response
    return render_template("error.html", code=code, message=error.description or error.name), code


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
    tiles = str(app.config.get("TILES") or "") or None

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = csp.policy(tiles, _nonce_page(response))
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response | tuple[str, int]:
        return _error_response(error)

    @app.errorhandler(CSRFError)
    def _csrf_error(error: CSRFError) -> Response | tuple[str, int]:
        error.description = "The form expired or came from another site; reload the page and try again."
        return _error_response(error)

    @app.errorhandler(InternalServerError)
    def _server_error(error: InternalServerError) -> Response | tuple[str, int]:
        error.description = "Something went wrong on our side; nothing was changed."
        return _error_response(error)
