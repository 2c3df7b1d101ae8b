"""Settings are read in one place (issue 10, item 4): ``mapaid.config`` turns the environment and
``create_app``'s overrides into a typed ``Settings``, ``create_app`` writes what Flask and its extensions
need into ``app.config``, and every other module asks ``mapaid.db.settings()`` (or ``cli_settings()``).
A raw ``app.config`` read elsewhere would bypass the checks and defaults in ``mapaid.config.resolve``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mapaid.config import DEFAULT_BASEMAP, resolve

PACKAGE = Path(__file__).resolve().parent.parent / "mapaid"
# The one place that touches app.config (it writes it, once, when the app is built) and the one that
# reads the environment.
CONFIG_WRITER = PACKAGE / "__init__.py"
ENVIRONMENT_READER = PACKAGE / "config.py"
APP_NAMES = {"app", "current_app", "flask"}


def _names(node: ast.expr) -> str:
    """``a.b.c`` as text (the leftmost name and every attribute), "" for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _names(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


def raw_reads(source: str, path: Path) -> list[str]:
    """Where ``source`` (the code of ``path``) touches ``<app>.config`` or ``os.environ``/``os.getenv``."""
    found = []
    for node in ast.walk(ast.parse(source, str(path))):
        if not isinstance(node, ast.Attribute):
            continue
        dotted = _names(node)
        parts = dotted.split(".")
        config = node.attr == "config" and len(parts) > 1 and parts[-2] in APP_NAMES
        environ = dotted in ("os.environ", "os.getenv")
        if (config and path != CONFIG_WRITER) or (environ and path != ENVIRONMENT_READER):
            found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {dotted}")
    return found


def test_no_module_reads_app_config_or_the_environment_raw() -> None:
    found = [hit for path in sorted(PACKAGE.rglob("*.py")) for hit in raw_reads(path.read_text(), path)]
    assert not found, "read settings through mapaid.db.settings() instead:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "code",
    [
        "x = current_app.config.get('TILES')",
        "x = current_app.config['TILES']",
        "app.config.setdefault('A', 1)",
        "import flask\nx = flask.current_app.config['A']",
        "import os\nx = os.environ.get('MAPAID_TILES')",
        "import os\nx = os.getenv('MAPAID_TILES')",
    ],
)
def test_the_check_sees_each_spelling(code: str) -> None:
    assert raw_reads(code, PACKAGE / "views" / "example.py"), code
    assert not raw_reads(code.replace("config", "settings").replace("os.", "oz."), PACKAGE / "x.py")


def test_settings_hold_what_views_once_read_raw() -> None:
    given = resolve(
        {
            "SECRET_KEY": "k",
            "TILES": " /t/{z}/{x}/{y}.png ",
            "TILES_ATTRIBUTION": "",
            "BASEMAP": "NONE",
            "SECURE_COOKIES": "0",
            "TRUSTED_PROXIES": "2",
        }
    )
    assert given.tiles == "/t/{z}/{x}/{y}.png" and given.tiles_attribution is None
    assert given.basemap is None and given.secure_cookies is False and given.trusted_proxies == 2
    shipped = resolve({"SECRET_KEY": "k"})
    assert shipped.basemap == DEFAULT_BASEMAP and shipped.tiles is None and not shipped.secure_cookies
    assert resolve({"SECRET_KEY": "k", "SECURE_COOKIES": "1"}).secure_cookies
