"""The privacy invariant as a type: a store takes only ``privacy.CoarsePosts``, which nothing but the privacy
step can make. The type checker refuses raw submissions handed to a store and a ``CoarsePosts`` built
anywhere else, while the real data flow (intake -> privacy -> store) passes; at run time the seal refuses
a forged batch too."""

from __future__ import annotations

import re
import textwrap
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from mypy import api

from mapaid.privacy import CoarsePosts

ROOT = Path(__file__).resolve().parent.parent

# The real flow, as pipeline.ingest runs it: must type-check.
GOOD = """
from datetime import date

from mapaid.models import Submissions
from mapaid.privacy import coarsen, to_posts
from mapaid.sqlitestore import open_sqlite
from mapaid.store import Store


def write(store: Store, subs: Submissions, secret: bytes) -> None:
    area = store.area()
    coarse = coarsen(subs.lat, subs.lon, subs.cell, area, 9)
    posts, _ = to_posts(subs, coarse, area, secret, date(2026, 1, 1), with_tokens=False)
    store.add(posts)
    open_sqlite("x.sqlite3").add(posts)
"""

# Exact points straight into a store, through the protocol and through the SQLite store itself.
RAW = """
from mapaid.models import Submissions
from mapaid.sqlitestore import SQLiteStore
from mapaid.store import Store


def write(store: Store, sqlite: SQLiteStore, subs: Submissions) -> None:
    store.add(subs)  # refused
    sqlite.add(subs)  # refused
"""

# A batch made outside mapaid/privacy.py: without a seal, and with one of its own.
FORGED = """
from datetime import date

import numpy as np

from mapaid.privacy import CoarsePosts


def unsealed() -> CoarsePosts:
    return CoarsePosts(  # refused: no seal
        ["a" * 20], ["offer"], ["food"], ["x"], [None], np.array([0], dtype=np.int64), ["centralny"],
        date(2026, 1, 1), [date(2026, 1, 5)], [None], np.array([27.5]), np.array([53.9]),
    )


def own_seal() -> CoarsePosts:
    return CoarsePosts(
        ["a" * 20], ["offer"], ["food"], ["x"], [None], np.array([0], dtype=np.int64), ["centralny"],
        date(2026, 1, 1), [date(2026, 1, 5)], [None], np.array([27.5]), np.array([53.9]),
        seal=object(),  # refused: not the privacy step's seal
    )
"""


def _refused(path: Path) -> list[int]:
    """The lines of a snippet marked ``# refused``: where mypy must report an error."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [n for n, text in enumerate(lines, start=1) if "# refused" in text]


def _errors(output: str, path: Path) -> list[tuple[int, str]]:
    """(line, message) of each error mypy reports in ``path``."""
    found = []
    for line in output.splitlines():
        match = re.match(rf"{re.escape(str(path))}:(\d+): error: (.*)", line)
        if match:
            found.append((int(match.group(1)), match.group(2)))
    return found


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Path]]:
    """One mypy run (strict, the project's settings and cache) over the whole package and the three
    snippets: mypy's output and the snippets' paths."""
    folder = tmp_path_factory.mktemp("snippets")
    paths = {}
    for name, text in (("good", GOOD), ("raw", RAW), ("forged", FORGED)):
        paths[name] = folder / f"{name}.py"
        paths[name].write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    stdout, stderr, _status = api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            "--no-error-summary",
            "--show-error-codes",
            str(ROOT / "mapaid"),
            *(str(p) for p in paths.values()),
        ]
    )
    assert not stderr, stderr
    return stdout, paths


def test_raw_submissions_handed_to_a_store_fail_the_type_check(checked: tuple[str, dict[str, Path]]) -> None:
    output, paths = checked
    errors = _errors(output, paths["raw"])
    assert [line for line, _ in errors] == _refused(paths["raw"]), output
    assert all('incompatible type "Submissions"; expected "CoarsePosts"' in m for _, m in errors), output


def test_coarse_posts_made_outside_the_privacy_step_fail_the_type_check(
    checked: tuple[str, dict[str, Path]],
) -> None:
    output, paths = checked
    errors = _errors(output, paths["forged"])
    assert len(errors) == 2, output
    (line, missing), (line2, wrong) = errors
    assert [line, line2] == _refused(paths["forged"]), output
    assert 'Missing named argument "seal" for "CoarsePosts"' in missing, output
    assert '"seal"' in wrong and '"object"' in wrong and "[arg-type]" in wrong, output


def test_the_real_code_passes_the_type_check(checked: tuple[str, dict[str, Path]]) -> None:
    """Nothing but the two bad snippets has an error: the package and the real data flow are clean."""
    output, paths = checked
    others = [
        line
        for line in output.splitlines()
        if ": error:" in line and not line.startswith((str(paths["raw"]), str(paths["forged"])))
    ]
    assert others == [], output


def _fields() -> dict[str, object]:
    return {
        "id": ["a" * 20],
        "kind": ["offer"],
        "category": ["food"],
        "text": ["x"],
        "contact": [None],
        "cell": np.array([0], dtype=np.int64),
        "district": ["centralny"],
        "created_day": date(2026, 1, 1),
        "expires_day": [date(2026, 1, 5)],
        "token_hash": [None],
        "lon": np.array([27.5]),
        "lat": np.array([53.9]),
    }


@pytest.mark.parametrize("seal", [None, object(), "privacy"], ids=["none", "object", "a string"])
def test_a_forged_seal_is_refused_at_run_time(seal: object) -> None:
    with pytest.raises(TypeError, match="privacy step only"):
        CoarsePosts(**_fields(), seal=seal)  # type: ignore[arg-type]


def test_a_missing_seal_is_refused_at_run_time() -> None:
    with pytest.raises(TypeError, match="seal"):
        CoarsePosts(**_fields())  # type: ignore[call-arg]
