"""The store's revision moves when a public answer changes, and only then (issue 17, item 9).

Caches of public answers (counts, unmet needs, places, Last-Modified; mapaid/cache.py) are keyed on the
revision, so a bump is visible from outside: the next public read is slower, and Last-Modified moves. A
bump for a write no public answer shows would tell a poller that someone posted (to wait for the round),
reported, moderated, logged in or wrote a message. One test per kind of write, on both stores."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import h3.api.basic_int as h3
import pandas as pd
import pytest
from flask.testing import FlaskClient

from mapaid import create_app, rounds
from mapaid.config import DEFAULT_CATEGORIES
from mapaid.models import SessionRecord
from mapaid.moderation import moderate
from mapaid.pipeline import ingest, rules_for
from mapaid.store import Store
from mapaid.threads import Message, Thread
from mapaid.walkpairs import Distances

CELL = h3.int_to_str(h3.latlng_to_cell(53.9023, 27.5619, 9))


class Site:
    """One database, an app with rounds on and one with rounds off, and the store."""

    def __init__(self, config: dict[str, Any], store: Store, today: date) -> None:
        self.store = store
        self.today = today
        self.waiting = create_app({**config, "PUBLISH_MINUTES": "30"}).test_client()
        self.at_once = create_app({**config, "PUBLISH_MINUTES": "0"}).test_client()
        self.clock = self.waiting.application.extensions["mapaid.clock"]

    def post(self, client: FlaskClient | None = None, text: str = "soup") -> dict[str, Any]:
        answer = (client or self.waiting).post(
            "/api/v1/posts", json={"kind": "need", "category": "food", "text": text, "cell": CELL}
        )
        assert answer.status_code == 201
        made: dict[str, Any] = answer.get_json()
        return made

    def public(self, text: str = "public soup") -> dict[str, Any]:
        return self.post(self.at_once, text)

    def token(self, made: dict[str, Any]) -> dict[str, str]:
        return {"X-Post-Token": made["token"]}

    def moderate(self, post_id: str, action: str, *, at_once: bool = False) -> None:
        assert moderate(self.store, post_id, action, "anna", self.clock.now(), at_once=at_once)

    def converse(self, post_id: str) -> None:
        day = self.today.isoformat()
        thread = Thread(f"t{post_id[:8]}", post_id, "key", "hash", day)
        assert self.store.start_thread(thread, Message("replier", "v1.a", day), 10, day, "0" * 64) is None
        assert self.store.add_message(thread.id, Message("poster", "v1.b", day), 10, day) == 2


def _import(site: Site) -> None:
    frame = pd.DataFrame([{"cell": CELL, "kind": "offer", "category": "food", "text": "imported"}])
    ingest(frame, ["row 1"], rules_for(DEFAULT_CATEGORIES, 9, site.today), site.store, b"k")


def _places(site: Site) -> None:
    site.store.replace_places(
        [
            {
                "kind": "metro",
                "name": "Nemiga",
                "name_be": None,
                "name_ru": None,
                "name_en": None,
                "alt": "",
                "district": None,
                "lon": 27.55,
                "lat": 53.9,
                "line": None,
                "source": "list",
            }
        ]
    )


def _walks(site: Site) -> None:
    one = h3.str_to_int(CELL)
    site.store.replace_walks(
        Distances(
            pd.array([one], dtype="int64").to_numpy(),
            pd.array([1.0]).to_numpy(),
            pd.array([0, 0], dtype="int64").to_numpy(),
            pd.array([], dtype="int64").to_numpy(),
            pd.array([], dtype="uint16").to_numpy(),
        ),
        {"file": "x.osm"},
    )


def _session(site: Site) -> None:
    site.store.add_coordinator("anna", "hash", site.today)
    record = SessionRecord("h", "anna", "tag", 1800, 1800, 3600)
    site.store.add_session(record)
    site.store.touch_session("h", 3600, 7200)
    site.store.end_session("h")
    site.store.set_password_hash("anna", "hash2")
    site.store.remove_coordinator("anna")


def _patch(site: Site, made: dict[str, Any], client: FlaskClient) -> None:
    url = f"/api/v1/posts/{made['id']}"
    assert client.patch(url, json={"text": "new words"}, headers=site.token(made)).status_code == 200


def _extend(site: Site, made: dict[str, Any], client: FlaskClient) -> None:
    url = f"/api/v1/posts/{made['id']}/extend"
    assert client.post(url, json={"days": 7}, headers=site.token(made)).status_code == 200


def _delete(site: Site, made: dict[str, Any]) -> None:
    url = f"/api/v1/posts/{made['id']}"
    assert site.waiting.delete(url, headers=site.token(made)).status_code == 204


def _fulfil(site: Site, made: dict[str, Any]) -> None:
    url = f"/api/v1/posts/{made['id']}/fulfilled"
    assert site.waiting.post(url, headers=site.token(made)).status_code == 200


def _dismiss(site: Site, made: dict[str, Any]) -> None:
    assert site.store.add_report(made["id"], "spam", site.today)
    site.moderate(made["id"], "dismiss")


def _hidden(site: Site) -> dict[str, Any]:
    made = site.public()
    site.moderate(made["id"], "hide")
    return made


def _forms_and_leases(site: Site) -> None:
    site.store.claim_form("k", 1800, 0, 0)
    site.store.finish_form("k", b"sealed", 1800)
    site.store.purge_forms(10**10)
    assert site.store.take_lease("chore", 1, 2)
    site.store.release_lease("chore")


def _fulfilled_and_expired(site: Site) -> None:
    _fulfil(site, site.public())
    frame = pd.DataFrame([{"cell": CELL, "kind": "offer", "category": "food", "text": "old", "expires": "1"}])
    ingest(
        frame, ["row 1"], rules_for(DEFAULT_CATEGORIES, 9, site.today - timedelta(days=5)), site.store, b"k"
    )


def _purges(site: Site) -> None:
    assert site.store.purge_fulfilled() == 1
    assert site.store.purge_expired(site.today) == 1


def _clean_up(site: Site) -> None:
    from mapaid.housekeeping import run_once

    run_once(site.store, site.clock)


def _purge_audit(site: Site) -> None:
    assert site.store.purge_audit(site.today + timedelta(days=1)) == 1


def _published_edit(site: Site, made: dict[str, Any]) -> None:
    _patch(site, made, site.waiting)
    rounds.publish(site.store)


# Each kind of write: what it needs first (None: nothing; its result is the write's second argument), and
# the write itself.
Setup = Callable[[Site], Any] | None
UNSEEN: dict[str, tuple[Setup, Callable[..., Any]]] = {
    "a post waiting for its round": (None, lambda s: s.post()),
    "an edit of a public post, waiting for the round": (Site.public, lambda s, p: _patch(s, p, s.waiting)),
    "an extension of a public post, waiting": (Site.public, lambda s, p: _extend(s, p, s.waiting)),
    "an edit of a pending post": (Site.post, lambda s, p: _patch(s, p, s.waiting)),
    "a pending post deleted": (Site.post, _delete),
    "a pending post fulfilled": (Site.post, _fulfil),
    "a report": (Site.public, lambda s, p: s.store.add_report(p["id"], "spam", s.today)),
    "reports dismissed": (Site.public, _dismiss),
    "a restore waiting for its round": (_hidden, lambda s, p: s.moderate(p["id"], "restore")),
    "a conversation and a message": (Site.public, lambda s, p: s.converse(p["id"])),
    "accounts and logins": (None, _session),
    "one-form rows and leases": (None, _forms_and_leases),
    "the daily clean-up with nothing due": (None, _clean_up),
    "fulfilled and expired posts purged": (_fulfilled_and_expired, lambda s, _: _purges(s)),
    "a round with nothing waiting": (None, lambda s: rounds.publish(s.store)),
    "the audit purged": (lambda s: _dismiss(s, s.public()), lambda s, _: _purge_audit(s)),
}
SEEN: dict[str, tuple[Setup, Callable[..., Any]]] = {
    "a round that publishes a post": (Site.post, lambda s, _: rounds.publish(s.store)),
    "a round that publishes an edit": (Site.public, _published_edit),
    "a post with rounds off": (None, lambda s: s.public()),
    "an import": (None, _import),
    "a public post deleted": (Site.public, _delete),
    "a public post fulfilled": (Site.public, _fulfil),
    "a hide": (Site.public, lambda s, p: s.moderate(p["id"], "hide")),
    "a coordinator's fulfilled": (Site.public, lambda s, p: s.moderate(p["id"], "fulfilled")),
    "a restore with rounds off": (_hidden, lambda s, p: s.moderate(p["id"], "restore", at_once=True)),
    "an edit with rounds off": (Site.public, lambda s, p: _patch(s, p, s.at_once)),
    "places loaded": (None, _places),
    "walking distances loaded": (None, _walks),
}


def _revisions(site: Site, kind: tuple[Setup, Callable[..., Any]]) -> tuple[int, int]:
    """The revision before and after the write (after its setup)."""
    setup, write = kind
    made = setup(site) if setup is not None else None
    before = site.store.revision()
    if setup is None:
        write(site)
    else:
        write(site, made)
    return before, site.store.revision()


@pytest.fixture
def site(config: dict[str, Any], store: Store, today: date) -> Site:
    return Site(config, store, today)


@pytest.mark.parametrize("kind", list(UNSEEN))
def test_a_write_no_public_answer_shows_leaves_the_revision(site: Site, kind: str) -> None:
    before, after = _revisions(site, UNSEEN[kind])
    assert after == before


@pytest.mark.parametrize("kind", list(SEEN))
def test_a_write_a_public_answer_shows_moves_the_revision(site: Site, kind: str) -> None:
    before, after = _revisions(site, SEEN[kind])
    assert after > before


def test_districts_loaded_move_the_revision(store: Store) -> None:
    frame = store.area().districts
    frame = frame.drop(columns=[c for c in frame.columns if c.startswith("_")], errors="ignore")
    before = store.revision()
    store.replace_districts(frame, 32635)
    assert store.revision() > before
