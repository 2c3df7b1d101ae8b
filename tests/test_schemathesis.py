"""The JSON API against its own OpenAPI document, with schemathesis: generated requests, valid and not,
never get a 5xx, and every response conforms to the document (status, content type, headers, body).

Schemathesis's pytest fixture loader does not run under pytest 9, so each operation is driven through
its Python API: the document is loaded from the WSGI app, and each operation's case strategy is run by
Hypothesis with a bounded, derandomised number of examples (no network: requests go to the app).

One thing the document cannot say: which places are served. A cell or point is valid only inside the
districts loaded at run time, so schema-valid cases (which must be accepted) get their place moved
inside Minsk; every other field stays as generated. Cases meant to break the schema are left alone.
"""

from __future__ import annotations

from typing import Any

import h3.api.basic_int as h3
import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from mapaid import create_app, openapi
from mapaid.config import DEFAULT_CATEGORIES

EXAMPLES = 60
CENTRE = (53.9025, 27.5615)
CELL = h3.int_to_str(h3.latlng_to_cell(*CENTRE, 9))
DOCUMENT = openapi.document(DEFAULT_CATEGORIES)
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


def _served(case: Any) -> Any:
    """A schema-valid case with its place inside the served area (a cell, or a point, as generated)."""
    if isinstance(case.query, dict) and "cell" in case.query:
        case.query["cell"] = CELL
    if isinstance(case.body, dict):
        if "cell" in case.body:
            case.body["cell"] = CELL
        if "lat" in case.body and "lon" in case.body:
            case.body["lat"], case.body["lon"] = CENTRE
    return case


@pytest.fixture
def api(config: dict[str, Any]) -> Any:
    app: Flask = create_app({**config, "PROPAGATE_EXCEPTIONS": False})
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


@pytest.mark.parametrize(("path", "method", "mode"), CASES)
def test_api_conforms_to_its_openapi_document(api: Any, path: str, method: str, mode: GenerationMode) -> None:
    strategy = api[path][method.upper()].as_strategy(generation_mode=mode)
    if mode is GenerationMode.POSITIVE:
        strategy = strategy.map(_served)

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
        case.call_and_validate(headers={"Accept-Encoding": "identity"})

    run()
