"""Several app servers on one database (issue 12, item 4): what they must share they share through the
database (or the instance folder), so each sees the others' writes at once and a start together is safe."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from conftest import TEST_SECRET
from databases import Databases
from livesite import serve_process
from test_posting_flow import CELL, CENTRE

from mapaid.cli import main
from mapaid.config import default_secret_loader

PASSWORD = "correct horse battery"


def _start_together(instance: Path, servers: int) -> tuple[list[str], list[BaseException]]:
    start = threading.Barrier(servers)
    keys: list[str] = []
    errors: list[BaseException] = []

    def load() -> None:
        start.wait()
        try:
            keys.append(default_secret_loader(instance))
        except BaseException as error:  # the test reports every failure
            errors.append(error)

    threads = [threading.Thread(target=load) for _ in range(servers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return keys, errors


def test_servers_starting_together_on_a_fresh_instance_share_one_secret_key(tmp_path: Path) -> None:
    for attempt in range(20):  # a race: try it often enough to lose it
        instance = tmp_path / f"instance-{attempt}"
        keys, errors = _start_together(instance, 8)
        assert errors == []
        assert len(keys) == 8 and len(set(keys)) == 1 and len(keys[0]) == 64
        assert (instance / "secret_key").read_text().strip() == keys[0]
        assert sorted(p.name for p in instance.iterdir()) == ["secret_key"]


# -- two real `mapaid serve` processes on one database ------------------------------------------------


@dataclass
class Pair:
    """Two servers on one database and one browser-like client (cookies go to both: same host)."""

    a: str
    b: str
    web: requests.Session


def _start_pair(database: str, folder: Path) -> Iterator[Pair]:
    env = {
        "MAPAID_DATABASE": database,
        "MAPAID_SECRET_KEY": TEST_SECRET,  # every server of a site holds the same secret (docs/deploy.md)
        "MAPAID_INSTANCE": str(folder / "instance"),
        "MAPAID_CELL_RES": "9",
        "MAPAID_POST_LIMIT": "100000 per minute",
        "MAPAID_POST_LIMIT_TOTAL": "100000 per minute",
        "MAPAID_WRITE_LIMIT": "100000 per minute",
        "MAPAID_PUBLISH_MINUTES": "0",  # seen at once: rounds across servers have test_rounds_disk.py
    }
    added = CliRunner().invoke(
        main, ["coordinator", "add", "anna", "--password-stdin"], env=env, input=f"{PASSWORD}\n"
    )
    assert added.exit_code == 0, added.output
    with (
        serve_process(env, folder / "a.log") as a,
        serve_process(env, folder / "b.log") as b,
        requests.Session() as web,
    ):
        yield Pair(a, b, web)


@pytest.fixture(scope="module")
def sqlite_pair(tmp_path_factory: pytest.TempPathFactory, template_db: Path) -> Iterator[Pair]:
    folder = tmp_path_factory.mktemp("two-servers-sqlite")
    shutil.copy(template_db, folder / "mapaid.sqlite3")
    yield from _start_pair(str(folder / "mapaid.sqlite3"), folder)


@pytest.fixture(scope="module")
def postgis_pair(tmp_path_factory: pytest.TempPathFactory, databases: Databases) -> Iterator[Pair]:
    """A new, empty database in the test cluster (``MAPAID_TEST_POSTGRES``), its schema made by init-db."""
    folder = tmp_path_factory.mktemp("two-servers-postgis")
    url = databases.empty("postgis", folder)
    made = CliRunner().invoke(
        main, ["init-db"], env={"MAPAID_DATABASE": url, "MAPAID_INSTANCE": str(folder / "instance")}
    )
    assert made.exit_code == 0, made.output
    try:
        yield from _start_pair(url, folder)
    finally:
        databases.drop(url)


@pytest.fixture(params=["sqlite", "postgis"])
def pair(request: pytest.FixtureRequest) -> Pair:
    return request.getfixturevalue(f"{request.param}_pair")  # type: ignore[no-any-return]


def _post(server: str, text: str) -> tuple[str, str]:
    body = {"kind": "need", "category": "medicine", "text": text, "lat": CENTRE[0], "lon": CENTRE[1]}
    made = requests.post(f"{server}/api/v1/posts", json=body, timeout=30)
    assert made.status_code == 201, made.text
    return made.json()["id"], made.json()["token"]


def _listed(server: str) -> set[str]:
    answer = requests.get(f"{server}/api/v1/posts", params={"cell": CELL, "within": 400}, timeout=30)
    assert answer.status_code == 200, answer.text
    return {str(f["id"]) for f in answer.json()["features"]}


def _near(server: str) -> str:
    return requests.get(f"{server}/near/{CELL}", params={"within": 400}, timeout=30).text


def _district_needs(server: str) -> int:
    counted = requests.get(f"{server}/counts.json", params={"res": "district"}, timeout=30).json()
    return sum(area[2] for area in counted["areas"])


def _unmet_needs(server: str) -> int:
    table = requests.get(f"{server}/export/districts.geojson", timeout=30).json()
    return sum(int(f["properties"]["needs"]) for f in table["features"])


def _views(server: str) -> tuple[set[str], str, int, int]:
    """Everything a write must change at once: the API's list, the /near page, the home map's counts and
    the unmet-needs table (the last two cached per revision)."""
    return _listed(server), _near(server), _district_needs(server), _unmet_needs(server)


def test_a_post_made_on_one_server_is_seen_on_the_other_at_once(pair: Pair) -> None:
    listed, _, counted, unmet = _views(pair.b)  # B's caches hold the database as it was
    post_id, _ = _post(pair.a, "Insulin pens, please (A)")
    listed_after, near_after, counted_after, unmet_after = _views(pair.b)
    assert listed_after == listed | {post_id}
    assert "Insulin pens, please (A)" in near_after
    assert (counted_after, unmet_after) == (counted + 1, unmet + 1)


def test_a_post_deleted_on_one_server_is_gone_from_the_other_at_once(pair: Pair) -> None:
    post_id, token = _post(pair.a, "Bandages, please (deleted on B)")
    listed, near, counted, unmet = _views(pair.a)
    assert post_id in listed and "Bandages, please (deleted on B)" in near
    gone = requests.delete(f"{pair.b}/api/v1/posts/{post_id}", headers={"X-Post-Token": token}, timeout=30)
    assert gone.status_code in (200, 204), gone.text
    listed_after, near_after, counted_after, unmet_after = _views(pair.a)
    assert post_id not in listed_after and "Bandages, please (deleted on B)" not in near_after
    assert (counted_after, unmet_after) == (counted - 1, unmet - 1)
    assert requests.get(f"{pair.a}/api/v1/posts/{post_id}", timeout=30).status_code == 404


def _csrf(web: requests.Session, url: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', web.get(url, timeout=30).text)
    assert match, url
    return match.group(1)


def test_a_login_and_a_moderation_on_one_server_hold_on_the_other(pair: Pair) -> None:
    web = pair.web
    login = {"name": "anna", "password": PASSWORD, "csrf_token": _csrf(web, f"{pair.a}/coordinator/login")}
    logged = web.post(f"{pair.a}/coordinator/login", data=login, timeout=30, allow_redirects=False)
    assert logged.status_code in (302, 303), logged.text
    on_b = web.get(f"{pair.b}/coordinator", timeout=30, allow_redirects=False)
    assert on_b.status_code == 200  # the login made on A is a login on B
    post_id, _ = _post(pair.b, "Crutches, please (hidden on A)")
    assert post_id in _listed(pair.b)
    form = {"csrf_token": _csrf(web, f"{pair.a}/coordinator/posts")}  # a form of A's, session shared
    hidden = web.post(f"{pair.a}/coordinator/posts/{post_id}/hide", data=form, timeout=30)
    assert hidden.status_code == 200, hidden.text
    assert post_id not in _listed(pair.b)
    assert "Crutches, please (hidden on A)" not in _near(pair.b)
    out = {"csrf_token": _csrf(web, f"{pair.b}/coordinator")}
    assert web.post(f"{pair.b}/coordinator/logout", data=out, timeout=30).status_code == 200
    assert web.get(f"{pair.a}/coordinator", timeout=30, allow_redirects=False).status_code in (302, 303)


def test_a_form_sent_to_both_servers_makes_one_post(pair: Pair) -> None:
    web = pair.web
    html = web.get(f"{pair.a}/post", params={"cell": CELL}, timeout=30).text
    form = {
        name: re.search(rf'name="{name}" value="([^"]*)"', html).group(1)  # type: ignore[union-attr]
        for name in ("csrf_token", "form_nonce")
    }
    data = {"cell": CELL, "kind": "need", "category": "food", "text": "Soup, please (one form)", **form}
    before = _listed(pair.a)
    with ThreadPoolExecutor(2) as both:  # a double tap: both at once, one to each server
        answers = list(both.map(lambda s: web.post(f"{s}/post", data=data, timeout=30), (pair.a, pair.b)))
    assert [a.status_code for a in answers] == [200, 200], [a.text[:300] for a in answers]
    assert len(_listed(pair.b) - before) == 1
