"""The JSON API against its own OpenAPI document, with schemathesis: generated requests, valid and not,
never get a 5xx, and every response conforms to the document (status, content type, headers, body).

Schemathesis's pytest fixture loader does not run under pytest 9, so each operation is driven through
its Python API: the document is loaded from the WSGI app, and each operation's case strategy is run by
Hypothesis with a bounded, derandomised number of examples (no network: requests go to the app).

One thing the document cannot say: which places are served. A cell or point is valid only inside the
districts loaded at run time, so schema-valid cases (which must be accepted) get their place moved
inside Minsk; every other field stays as generated. Nor can it say which texts are public keys: a
schema-valid ``reply_key`` is replaced by a real one. Cases meant to break the schema are left alone.
"""

from __future__ import annotations

from typing import Any

import h3.api.basic_int as h3
import pytest
import schemathesis
from conftest import Cli
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from mapaid import create_app, openapi, replycrypto
from mapaid.config import DEFAULT_CATEGORIES

EXAMPLES = 60
STATEFUL_EXAMPLES = 25
PASSWORD = "correct horse battery"
CENTRE = (53.9025, 27.5615)
CELL = h3.int_to_str(h3.latlng_to_cell(*CENTRE, 9))
DOCUMENT = openapi.document(DEFAULT_CATEGORIES)
KEY = replycrypto.generate("p256").public
OPERATIONS = [(path, method) for path, methods in DOCUMENT["paths"].items() for method in methods]


def _negatable(path: str, method: str) -> bool:
    """Whether a request can break this operation's schema: a body, or a query or header parameter (a
    path parameter is any string, and an operation without parameters has nothing to break)."""
    operation = DOCUMENT["paths"][path][method]
    refs = DOCUMENT["components"]["parameters"]
    params = [
        refs[p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p for p in operation.get("parameters", ())
    ]
    return "requestBody" in operation or any(p["in"] != "path" for p in params)


CASES = [
    pytest.param(path, method, mode, id=f"{method.upper()} {path} {mode}")
    for path, method in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or _negatable(path, method)
]


def _negative(case: Any) -> bool:
    """Whether schemathesis made this case to be refused: then it must reach the server as made."""
    meta = getattr(case, "meta", None)
    return meta is not None and meta.generation.mode is GenerationMode.NEGATIVE


def _served(case: Any) -> Any:
    """A schema-valid case with its place inside the served area (a cell, or a point, as generated).
    A negative case is left alone: putting its point back inside the area would make it valid, and the
    server rightly accepting it would read as a failure."""
    if _negative(case):
        return case
    if isinstance(case.query, dict) and "cell" in case.query:
        case.query["cell"] = CELL
    if isinstance(case.body, dict):
        if "cell" in case.body:
            case.body["cell"] = CELL
        if "lat" in case.body and "lon" in case.body:
            case.body["lat"], case.body["lon"] = CENTRE
        if case.body.get("reply_key") is not None:
            case.body["reply_key"] = KEY
    return case


@pytest.fixture
def served_app(config: dict[str, Any], cli: Cli) -> Flask:
    app: Flask = create_app({**config, "PROPAGATE_EXCEPTIONS": False})
    assert cli("coordinator", "add", "anna", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    return app


@pytest.fixture
def api(served_app: Flask) -> Any:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", served_app)


@pytest.fixture
def login(served_app: Flask) -> dict[str, str]:
    """The Cookie header of a coordinator's login, for the operations that need one (coordinatorSession)."""
    served_app.config["WTF_CSRF_ENABLED"] = False
    client = served_app.test_client()
    response = client.post("/coordinator/login", data={"name": "anna", "password": PASSWORD})
    assert response.status_code == 302
    cookie = client.get_cookie(openapi.SESSION_COOKIE)
    assert cookie is not None
    return {"Cookie": f"{openapi.SESSION_COOKIE}={cookie.value}"}


def _needs_login(path: str, method: str) -> bool:
    security = DOCUMENT["paths"][path][method].get("security", ())
    return any("coordinatorSession" in s for s in security)


@pytest.mark.parametrize(("path", "method", "mode"), CASES)
def test_api_conforms_to_its_openapi_document(
    api: Any, login: dict[str, str], path: str, method: str, mode: GenerationMode
) -> None:
    """Each operation alone; the coordinators' logged in (schemathesis also tries them without)."""
    strategy = api[path][method.upper()].as_strategy(generation_mode=mode)
    if mode is GenerationMode.POSITIVE:
        strategy = strategy.map(_served)
    headers = login if _needs_login(path, method) else None

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        # Schemathesis' WSGI transport asks for gzip (as requests does) but does not undo it; the
        # compressed answers have their own tests (test_http.py).
        case.call_and_validate(headers={**(headers or {}), "Accept-Encoding": "identity"})

    run()


def test_the_stateful_phase_follows_the_links_and_finds_nothing(api: Any) -> None:
    """schemathesis's state machine: sequences of calls joined by the document's links (createPost's id
    and token into getPost, editPost, extendPost, fulfilPost, reportPost, deletePost), every response
    checked. It must really follow them: each linked operation answers 2xx at least once."""
    answered: set[tuple[str, int]] = set()
    machine = api.as_state_machine()

    class Served(machine):  # type: ignore[misc,valid-type]
        def before_call(self, case: Any) -> None:
            _served(case)

        def after_call(self, response: Any, case: Any) -> None:
            answered.add((case.operation.definition.raw["operationId"], response.status_code))

    Served.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    linked = {"getPost": 200, "editPost": 200, "extendPost": 200, "fulfilPost": 200, "deletePost": 204}
    missing = {op: code for op, code in linked.items() if (op, code) not in answered}
    assert not missing, f"never reached through a link: {missing}; answered {sorted(answered)}"
