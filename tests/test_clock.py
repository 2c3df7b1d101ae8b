"""One clock (issue 7, item 11): the app, the CLI and the tests take the time and the day from one injectable
UTC clock, so the date-sensitive tests hold on both sides of midnight UTC, wherever the machine is.

The coordinator and expiry tests below are the ones that failed between 00:00 and 03:00 in Minsk when the
tests took the local date and the app the UTC one; here they run with the clock a minute either side of
midnight UTC. The last test shows the old mistake still breaks them: a scene dated by the local (Minsk) date
at 22:30 UTC disagrees with what the app counts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import h3.api.basic_int as h3
import pytest
from conftest import Cli
from flask import Flask
from flask.testing import FlaskClient
from scene import HOME, Scene, build

# The coordinator tests themselves, collected again here, where `clock` stands at a day's edge.
from test_coordinator import (  # noqa: F401 - fixtures and tests pytest collects from this module
    PASSWORD,
    act,
    anna,
    coordinator,
    login,
    scene,
    test_moderation_list_filters,
    test_moderation_listing_pages_in_sql,
    test_page_api_csv_geojson_and_report_agree,
)
from test_unmet import test_cache_drops_when_a_post_is_hidden  # noqa: F401

from mapaid import accounts, create_app
from mapaid.clock import SYSTEM, Clock, FixedClock, SystemClock
from mapaid.store import Store

BEFORE_MIDNIGHT = datetime(2026, 11, 27, 23, 59, tzinfo=UTC)
AFTER_MIDNIGHT = datetime(2026, 11, 28, 0, 1, tzinfo=UTC)


@pytest.fixture(params=[BEFORE_MIDNIGHT, AFTER_MIDNIGHT], ids=["23:59 UTC", "00:01 UTC"])
def clock(request: pytest.FixtureRequest) -> FixedClock:
    return FixedClock(request.param)


@pytest.fixture
def minsk() -> Iterator[None]:
    """The process's local zone set to Minsk (UTC+3), as on the machines where the old tests failed."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "Europe/Minsk")
        time.tzset()
        try:
            yield
        finally:
            patch.undo()
            time.tzset()


# -- the clock itself -------------------------------------------------------------------------------------
def test_fixed_clock_is_utc_and_refuses_naive_times(clock: FixedClock, minsk: None) -> None:
    assert clock.now().tzinfo is UTC
    assert clock.today() == clock.now().date()
    with pytest.raises(ValueError, match="aware"):
        FixedClock(datetime(2026, 11, 27, 12, 0))
    clock.advance(timedelta(minutes=2))
    assert clock.today() == date(2026, 11, 28)  # from 23:59 over midnight, or from 00:01 on the same day


def test_system_clock_takes_the_utc_day_not_the_local_one(minsk: None) -> None:
    assert isinstance(SYSTEM, SystemClock) and isinstance(SYSTEM, Clock)
    before = datetime.now(UTC).date()
    today = SYSTEM.today()
    assert today in (before, datetime.now(UTC).date())
    assert SYSTEM.now().utcoffset() == timedelta(0)


def test_the_app_and_the_cli_use_the_injected_clock(config: dict[str, object], cli: Cli) -> None:
    app = create_app(config)
    assert app.extensions["mapaid.clock"] is config["CLOCK"]
    with pytest.raises(TypeError, match="CLOCK"):
        create_app({**config, "CLOCK": "tomorrow"})
    assert create_app({k: v for k, v in config.items() if k != "CLOCK"}).extensions["mapaid.clock"] is SYSTEM


# -- expiry at the day's edge ----------------------------------------------------------------------------
def test_a_post_lives_to_the_end_of_its_last_utc_day(
    client: FlaskClient, clock: FixedClock, cli: Cli, store: Store
) -> None:
    cell = h3.int_to_str(h3.latlng_to_cell(53.9023, 27.5619, 9))
    body = {"kind": "offer", "category": "food", "text": "Soup", "cell": cell, "expires_days": 1}
    created = client.post("/api/v1/posts", json=body)
    assert created.status_code == 201
    post_id = created.json["id"]
    assert store.get(post_id)["created_day"] == clock.today().isoformat()
    assert store.get(post_id)["expires_day"] == (clock.today() + timedelta(days=1)).isoformat()

    clock.advance(timedelta(days=1))  # the last day: still up, and not purged
    assert client.get(f"/api/v1/posts/{post_id}").status_code == 200
    assert "deleted 0 expired posts" in cli("purge-expired").output

    clock.advance(timedelta(days=1))  # the day after: gone from the API, and purged
    assert client.get(f"/api/v1/posts/{post_id}").status_code == 404
    assert "deleted 1 expired posts" in cli("purge-expired").output
    assert store.get(post_id) is None


def test_the_audit_trail_is_stamped_by_the_clock(
    coordinator: FlaskClient,  # noqa: F811 - the fixture imported above
    scene: Scene,  # noqa: F811
    store: Store,
    clock: FixedClock,
) -> None:

    assert act(coordinator, scene.ids["nm"], "hide").status_code == 302
    (entry,) = store.audit_trail()
    assert entry.at == clock.today().isoformat()  # the clock's UTC day: no time finer is kept


# -- the old mistake, shown to still matter ---------------------------------------------------------------
def test_a_local_date_would_break_the_coordinator_numbers(
    store: Store, config: dict[str, object], minsk: None
) -> None:
    """At 22:30 UTC it is already tomorrow in Minsk. A scene dated by the local date (what the tests did
    with ``date.today()``) disagrees with the app, which counts by the UTC day: the offer that "expired
    yesterday" is still open in UTC, and meets the medicine need the scene says is unmet. This is why the
    tests take today from the app's clock."""
    clock = FixedClock(datetime(2026, 11, 27, 22, 30, tzinfo=UTC))
    local_day = datetime.fromtimestamp(clock.now().timestamp()).date()  # the old mistake
    assert local_day == clock.today() + timedelta(days=1)
    dated_locally = build(store, local_day)
    app: Flask = create_app({**config, "CLOCK": clock})
    counted = _home_medicine_unmet(app, store)
    assert dated_locally.unmet[400][HOME]["medicine"] == 1
    assert counted == 0, "dated by the local day, the scene's expired offer still counts in UTC"


def _home_medicine_unmet(app: Flask, store: Store) -> int:
    """The medicine needs left unmet in the home district, as the coordinator API reports them."""
    accounts.add(store, "cora", PASSWORD, date(2026, 11, 27))
    client = app.test_client()
    assert login(client, name="cora").status_code == 302
    rows = client.get("/api/v1/coordinator/districts?within=400").json["districts"]
    return int(next(r for r in rows if r["district"] == HOME)["medicine_unmet"])
