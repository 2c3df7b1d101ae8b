"""Publication rounds (issue 17, item 2): a poller cannot time a post, an edit or an extension more finely
than its round.

The app runs on a fixed clock; a housekeeper (mapaid/housekeeping.py) is ticked at each second the test
moves the clock to, as its thread would wake. A poller reads every public answer (bodies, ETag,
Last-Modified, Content-Length: pages, counts, exports, OGC API, JSON API) at each of those seconds: posts
made at any second of a window change them all at one moment, the window's secret one, and not before;
whether a post came early or late in its round, the poller sees the same. What is taken away (a deletion,
a fulfilment, a hide) is immediate. The live server and the browser: test_rounds_live.py; what the tables
keep: test_rounds_disk.py."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import h3.api.basic_int as h3
import pytest
from conftest import TEST_NOW
from flask import Flask
from flask.testing import FlaskClient

from mapaid import create_app
from mapaid.clock import FixedClock
from mapaid.config import ConfigError, resolve
from mapaid.housekeeping import Housekeeper
from mapaid.rounds import Schedule
from mapaid.store import Store

CELL = h3.int_to_str(h3.latlng_to_cell(53.9023, 27.5619, 9))
NEAR = [h3.int_to_str(c) for c in h3.grid_disk(h3.str_to_int(CELL), 1)]
NONCE = re.compile(rb'nonce="[^"]*"|name="csrf_token" value="[^"]*"')
# Every public answer a poller could watch (the posts' own pages are added once they exist).
PUBLIC = (
    "/counts.json?res=district",
    "/counts.json?res=9",
    "/export/posts.geojson",
    "/export/posts.csv",
    "/export/posts.gpkg",
    "/export/districts.csv?within=800",
    "/ogcapi/collections/posts",
    "/ogcapi/collections/posts/items?f=json",
    "/ogcapi/collections/districts/items?f=json",
    f"/api/v1/posts?cell={CELL}&within=1200",
    f"/near/{CELL}?within=1200",
)
FEW = PUBLIC[:1] + PUBLIC[2:3] + PUBLIC[7:8] + PUBLIC[9:10]


def seen(client: FlaskClient, url: str) -> tuple[Any, ...]:
    """What a poller learns from one answer: status, body (a page's nonce and form token left out: they
    are new on every page), ETag, Content-Length, Last-Modified (which says "now" when it is the answer's
    own Date: that tells nothing)."""
    response = client.get(url, headers={"Accept-Encoding": "identity"})
    body = response.get_data()
    if response.mimetype == "text/html":
        body = NONCE.sub(b"", body)
    etag = response.headers.get("ETag")
    # An OGC API page says when it was made ("timeStamp", as Date does): the time of the answer, nothing
    # about the data. Its ETag, a hash of the body, then changes with it; the rest of the body is compared.
    stamp = f'"timeStamp":"{response.date:%Y-%m-%dT%H:%M:%SZ}"'.encode() if response.date else None
    if stamp is not None and stamp in body:
        body, etag = body.replace(stamp, b'"timeStamp":"now"'), "made now"
    modified = response.headers.get("Last-Modified")
    return (
        response.status_code,
        hashlib.sha256(body).hexdigest(),
        etag,
        response.headers.get("Content-Length"),
        "now" if modified == response.headers.get("Date") else modified,
    )


def seen_all(client: FlaskClient, urls: tuple[str, ...] | list[str]) -> dict[str, tuple[Any, ...]]:
    return {url: seen(client, url) for url in urls}


def rounds_app(config: dict[str, Any], clock: FixedClock, minutes: str) -> Flask:
    return create_app({**config, "CLOCK": clock, "PUBLISH_MINUTES": minutes})


def keeper_for(app: Flask, database: str) -> Housekeeper:
    """A housekeeper as `mapaid serve` starts one for ``app`` (not started: the test ticks it)."""
    return Housekeeper(database, app.extensions["mapaid.clock"], schedule=app.extensions["mapaid.schedule"])


def window_with_room(schedule: Schedule, after: datetime, low: float, high: float) -> int:
    """The first window from ``after`` on whose round lies between ``low`` and ``high`` of the way in."""
    window = schedule.window(after)
    while (
        not low
        <= (schedule.moment_ms(window) / 1000 % (schedule.window_ms / 1000)) / (schedule.window_ms / 1000)
        <= high
    ):
        window += 1
    return window


def post(client: FlaskClient, text: str, cell: str = CELL) -> dict[str, Any]:
    response = client.post(
        "/api/v1/posts", json={"kind": "need", "category": "food", "text": text, "cell": cell}
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    created: dict[str, Any] = response.get_json()
    return created


def counts(client: FlaskClient) -> tuple[int, int]:
    areas = client.get("/counts.json?res=district").get_json()["areas"]
    return sum(a[1] for a in areas), sum(a[2] for a in areas)


@pytest.fixture
def clock() -> FixedClock:
    """The day before the test's windows, so the site's revision was first seen yesterday and
    Last-Modified says midnight until something public changes."""
    return FixedClock(TEST_NOW - timedelta(days=1))


# -- the setting and the schedule ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "minutes"), [("30", 30.0), ("0", 0.0), ("0.05", 0.05), (" 1440 ", 1440.0), ("0.01", 0.01)]
)
def test_the_window_is_a_decimal_number_of_minutes(raw: str, minutes: float) -> None:
    assert resolve({"SECRET_KEY": "k", "PUBLISH_MINUTES": raw}).publish_minutes == minutes


def test_the_default_window_is_half_an_hour() -> None:
    settings = resolve({"SECRET_KEY": "k"})
    assert settings.publish_minutes == 30
    assert Schedule.from_settings(settings).window_ms == 30 * 60 * 1000


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("-1", "0 (publish at once) or a positive number"),
        ("half an hour", "a number of minutes"),
        ("nan", "0 (publish at once) or a positive number"),
        ("inf", "0 (publish at once) or a positive number"),
        ("1441", "at most 1440 minutes"),
        ("0.001", "at least 0.01 minutes"),
        ("", "a number of minutes"),
    ],
)
def test_a_window_the_site_cannot_serve_is_refused_with_a_message(raw: str, says: str) -> None:
    with pytest.raises(ConfigError, match="MAPAID_PUBLISH_MINUTES") as refused:
        resolve({"SECRET_KEY": "k", "PUBLISH_MINUTES": raw})
    assert says in str(refused.value)


def test_each_window_has_one_round_at_a_keyed_moment_inside_it() -> None:
    schedule = Schedule(30 * 60 * 1000, b"one secret")
    other = Schedule(30 * 60 * 1000, b"another secret")
    start = schedule.window(TEST_NOW)
    offsets = []
    for window in range(start, start + 400):
        moment = schedule.moment_ms(window)
        assert window * schedule.window_ms <= moment < (window + 1) * schedule.window_ms
        assert schedule.window(schedule.moment(window)) == window
        offsets.append((moment - window * schedule.window_ms) / schedule.window_ms)
    # Spread over the whole window (each quarter holds about a quarter of the rounds), and another key
    # places them elsewhere: nobody without the server's secret can tell when the next round comes.
    quarters = [sum(q / 4 <= o < (q + 1) / 4 for o in offsets) for q in range(4)]
    assert all(60 <= n <= 140 for n in quarters), quarters
    same = sum(schedule.moment_ms(w) == other.moment_ms(w) for w in range(start, start + 400))
    assert same == 0
    # The same key, the same rounds: every server sharing MAPAID_SECRET_KEY publishes at one moment.
    assert Schedule(30 * 60 * 1000, b"one secret").moment_ms(start) == schedule.moment_ms(start)


def test_the_next_round_is_the_first_moment_strictly_after_now() -> None:
    schedule = Schedule(60_000, b"k")
    window = schedule.window(TEST_NOW)
    moment = schedule.moment(window)
    assert schedule.next_round(moment - timedelta(milliseconds=1)) == window
    assert schedule.next_round(moment) == window + 1  # a server starting at the moment waits for the next
    assert schedule.max_delay_s() == 120  # a post just after a round waits at most two windows


def test_times_on_disk_are_kept_in_window_buckets() -> None:
    assert Schedule(30 * 60 * 1000, b"k").bucket_seconds() == 1800
    assert Schedule(3000, b"k").bucket_seconds() == 3
    assert Schedule(0, b"k").bucket_seconds() == 60  # rounds off: to the minute
    assert Schedule(1800_000, b"k").bucket(1_800_000_000 + 1799) == 1_800_000_000


# -- what a poller sees -------------------------------------------------------------------------------


def test_posts_made_at_any_second_of_a_window_change_every_public_answer_at_its_secret_moment(
    config: dict[str, Any], clock: FixedClock, database: str
) -> None:
    """Three posts, two of them a minute apart, at seconds spread over one window: before the window's
    round no public answer changes, not a byte, header or status (the posts' own pages answer 404); at the
    round every one changes, once, with all three posts."""
    app = rounds_app(config, clock, "30")
    schedule: Schedule = app.extensions["mapaid.schedule"]
    window = window_with_room(schedule, TEST_NOW, 0.5, 0.95)
    start = datetime.fromtimestamp(window * schedule.window_ms / 1000, UTC)
    moment = schedule.moment(window)
    client = app.test_client()
    seen_all(client, PUBLIC)  # the revision is first seen yesterday
    clock.set(start)
    keeper = keeper_for(app, database)  # a server started in this window: its first round is this one
    keeper.tick()
    baseline = seen_all(client, PUBLIC)
    before = counts(client)
    offsets = [7, 7 + 60, int((moment - start).total_seconds()) - 3]
    ids: list[str] = []
    seconds = sorted(
        {0, 1, *offsets, *(o + 1 for o in offsets), *range(100, int((moment - start).total_seconds()), 97)}
    )
    for second in seconds:
        clock.set(start + timedelta(seconds=second))
        if second in offsets:
            created = post(client, f"soup at second {second}")
            assert created["published"] is False
            ids.append(created["id"])
        keeper.tick()
        now = seen_all(client, PUBLIC)
        assert now == baseline, (second, [u for u in PUBLIC if now[u] != baseline[u]])
        for post_id in ids:
            assert client.get(f"/api/v1/posts/{post_id}").status_code == 404
            assert client.get(f"/p/{post_id}").status_code == 404
    clock.set(moment - timedelta(milliseconds=1))
    keeper.tick()
    assert seen_all(client, PUBLIC) == baseline and keeper.published == 0
    clock.set(moment)
    keeper.tick()
    assert keeper.published == 1
    after = seen_all(client, PUBLIC)
    assert all(after[url] != baseline[url] for url in PUBLIC), [u for u in PUBLIC if after[u] == baseline[u]]
    assert counts(client) == (before[0], before[1] + 3)  # all three in the one change
    for post_id in ids:
        assert client.get(f"/api/v1/posts/{post_id}").status_code == 200
        assert client.get(f"/p/{post_id}").status_code == 200
    later = seen_all(client, PUBLIC)
    clock.set(moment + timedelta(seconds=1))
    keeper.tick()
    assert {u: v[:4] for u, v in seen_all(client, PUBLIC).items()} == {u: v[:4] for u, v in later.items()}


def trace(
    app: Flask, database: str, clock: FixedClock, window: int, post_at: float, make: Callable[[], None]
) -> dict[str, list[float]]:
    """A poller's record over one window and the next, read each second: at which seconds (from the
    window's start) each public answer changed. ``make`` posts at ``post_at`` seconds."""
    schedule: Schedule = app.extensions["mapaid.schedule"]
    start = datetime.fromtimestamp(window * schedule.window_ms / 1000, UTC)
    clock.set(start - timedelta(seconds=1))
    keeper = keeper_for(app, database)
    client = app.test_client()
    last = seen_all(client, FEW)
    changes: dict[str, list[float]] = {url: [] for url in FEW}
    second = 0.0
    posted = False
    while second < 2 * schedule.window_ms / 1000:
        clock.set(start + timedelta(seconds=second))
        if not posted and second >= post_at:
            make()
            posted = True
        keeper.tick()
        now = seen_all(client, FEW)
        for url in FEW:
            if now[url][:4] != last[url][:4]:
                changes[url].append(second)
        last = now
        second += 1
    return changes


def test_a_poller_sees_the_same_whether_a_post_came_early_or_late_in_its_round(
    config: dict[str, Any], clock: FixedClock, database: str, more_databases: Callable[[str], str]
) -> None:
    """Over several windows, one site gets a post a second after the previous round, another (same
    secret, same clock) one a second before this round: the poller's record, read every second, is the
    same for both (so no rule can tell early from late better than chance), and every change falls on the
    window's round."""
    other = more_databases("late")
    early_app = rounds_app(config, clock, "0.25")
    late_app = rounds_app({**config, "DATABASE": other}, clock, "0.25")
    schedule: Schedule = early_app.extensions["mapaid.schedule"]
    window = window_with_room(schedule, TEST_NOW, 0.3, 0.9)
    for trial in range(3):
        start_s = window * schedule.window_ms / 1000
        previous = (schedule.moment_ms(window - 1) / 1000) - start_s  # negative: in the window before
        moment = schedule.moment_ms(window) / 1000 - start_s
        early_at, late_at = max(0.0, math.floor(previous) + 2), math.ceil(moment) - 2
        assert early_at < late_at
        early = trace(
            early_app, database, clock, window, early_at, lambda: post(early_app.test_client(), "x")
        )
        late = trace(late_app, other, clock, window, late_at, lambda: post(late_app.test_client(), "y"))
        assert early == late, (trial, early_at, late_at)
        assert early == {url: [float(math.ceil(moment))] for url in FEW}, (trial, moment)
        window = window_with_room(schedule, datetime.fromtimestamp(start_s + 60, UTC), 0.3, 0.9)


def test_a_post_after_the_windows_round_waits_for_the_next_windows(
    config: dict[str, Any], clock: FixedClock, database: str
) -> None:
    app = rounds_app(config, clock, "30")
    schedule: Schedule = app.extensions["mapaid.schedule"]
    window = window_with_room(schedule, TEST_NOW, 0.1, 0.5)
    clock.set(schedule.moment(window) - timedelta(minutes=1))
    keeper = keeper_for(app, database)
    client = app.test_client()
    before = counts(client)
    clock.set(schedule.moment(window))
    keeper.tick()  # this window's round
    clock.set(schedule.moment(window) + timedelta(seconds=1))
    post(client, "just missed it")
    keeper.tick()
    assert counts(client) == before
    clock.set(schedule.moment(window + 1) - timedelta(milliseconds=1))
    keeper.tick()
    assert counts(client) == before
    clock.set(schedule.moment(window + 1))
    keeper.tick()
    assert counts(client) == (before[0], before[1] + 1)


def test_a_server_that_starts_after_a_moment_publishes_at_the_next_not_at_start(
    config: dict[str, Any], clock: FixedClock, database: str
) -> None:
    app = rounds_app(config, clock, "30")
    schedule: Schedule = app.extensions["mapaid.schedule"]
    window = window_with_room(schedule, TEST_NOW, 0.1, 0.5)
    clock.set(schedule.moment(window) - timedelta(minutes=1))
    client = app.test_client()
    before = counts(client)
    post(client, "made while no server ran its rounds")
    clock.set(schedule.moment(window) + timedelta(minutes=5))  # the round's moment passed meanwhile
    keeper = keeper_for(app, database)
    keeper.tick()  # start: the daily clean-up, no publication
    assert counts(client) == before and keeper.published == 0
    clock.set(schedule.moment(window + 1))
    keeper.tick()
    assert counts(client) == (before[0], before[1] + 1) and keeper.published == 1


# -- what waits and what does not ---------------------------------------------------------------------


@pytest.fixture
def site(config: dict[str, Any], clock: FixedClock, database: str) -> Iterator[tuple[Flask, Housekeeper]]:
    clock.set(TEST_NOW)
    app = rounds_app(config, clock, "30")
    yield app, keeper_for(app, database)


def run_round(app: Flask, keeper: Housekeeper) -> None:
    """Move the clock to the next round's moment and tick, as the housekeeper's thread would."""
    schedule: Schedule = app.extensions["mapaid.schedule"]
    clock: FixedClock = app.extensions["mapaid.clock"]
    clock.set(schedule.moment(schedule.next_round(clock.now())))
    done = keeper.published
    keeper.tick()
    assert keeper.published == done + 1


def test_an_edit_and_an_extension_of_a_public_post_wait_for_the_round(
    site: tuple[Flask, Housekeeper],
) -> None:
    app, keeper = site
    client = app.test_client()
    created = post(client, "Soup on Monday")
    run_round(app, keeper)
    url = f"/api/v1/posts/{created['id']}"
    public = seen(client, url)
    token = {"X-Post-Token": created["token"]}
    assert client.patch(url, json={"text": "Soup on Tuesday"}, headers=token).get_json()["text"] == (
        "Soup on Tuesday"
    )
    extended = client.post(f"{url}/extend", json={"days": 7}, headers=token).get_json()["expires"]
    assert seen(client, url) == public  # others still see Monday and the old last day
    assert client.get(url).get_json()["properties"]["text"] == "Soup on Monday"
    page = client.get(f"/manage/{created['id']}/{created['token']}").get_data(as_text=True)
    assert "Soup on Tuesday" in page and "Others will see your change within an hour" in page
    run_round(app, keeper)
    properties = client.get(url).get_json()["properties"]
    assert (properties["text"], properties["expires"]) == ("Soup on Tuesday", extended)


def test_a_deletion_a_fulfilment_and_a_hide_are_immediate(
    site: tuple[Flask, Housekeeper], store: Store
) -> None:
    app, keeper = site
    client = app.test_client()
    made = [post(client, f"soup {i}") for i in range(3)]
    run_round(app, keeper)
    before = counts(client)
    deleted = client.delete(f"/api/v1/posts/{made[0]['id']}", headers={"X-Post-Token": made[0]["token"]})
    assert deleted.status_code == 204 and counts(client) == (before[0], before[1] - 1)
    done = client.post(f"/api/v1/posts/{made[1]['id']}/fulfilled", headers={"X-Post-Token": made[1]["token"]})
    assert done.status_code == 200 and counts(client) == (before[0], before[1] - 2)
    from mapaid.moderation import moderate

    assert moderate(store, made[2]["id"], "hide", "anna", app.extensions["mapaid.clock"].now(), at_once=False)
    assert counts(client) == (before[0], before[1] - 3)
    # A restore is a publication: it waits for the round, as a new post does.
    assert moderate(
        store, made[2]["id"], "restore", "anna", app.extensions["mapaid.clock"].now(), at_once=False
    )
    assert counts(client) == (before[0], before[1] - 3)
    run_round(app, keeper)
    assert counts(client) == (before[0], before[1] - 2)


def test_a_pending_post_takes_no_conversation_or_report_and_coordinators_do_not_list_it(
    site: tuple[Flask, Housekeeper], store: Store
) -> None:
    app, keeper = site
    client = app.test_client()
    created = post(client, "not yet public")
    report = client.post(f"/api/v1/posts/{created['id']}/report", json={"reason": "spam"})
    assert report.status_code == 404
    assert client.get(f"/report/{created['id']}").status_code == 404
    thread = client.post(f"/api/v1/posts/{created['id']}/threads", json={"key": "x", "message": "v1.x"})
    assert thread.status_code == 404
    from mapaid.models import Search
    from mapaid.moderation import listing

    frame, total = listing(store, app.extensions["mapaid.clock"].today(), {}, search=Search(text="not yet"))
    assert (total, list(frame["id"])) == (0, [])
    run_round(app, keeper)
    frame, total = listing(store, app.extensions["mapaid.clock"].today(), {}, search=Search(text="not yet"))
    assert list(frame["id"]) == [created["id"]]


def test_the_private_link_shows_a_pending_post_with_when_others_will_see_it(
    site: tuple[Flask, Housekeeper],
) -> None:
    app, keeper = site
    client = app.test_client()
    created = post(client, "Insulin pens, please")
    for lang, words in (
        ("en", "Others will see it on the map within an hour"),
        ("ru", "Другие увидят его на карте в течение часа"),
        ("be", "Іншыя ўбачаць яго на мапе на працягу гадзіны"),
    ):
        page = client.get(f"/manage/{created['id']}/{created['token']}?lang={lang}").get_data(as_text=True)
        assert "Insulin pens, please" in page and words in page, lang
    run_round(app, keeper)
    page = client.get(f"/manage/{created['id']}/{created['token']}?lang=en").get_data(as_text=True)
    assert "Insulin pens, please" in page and "Others will see" not in page


@pytest.mark.parametrize(
    ("minutes", "words"),
    [
        ("30", "within an hour"),
        ("15", "within half an hour"),
        ("5", "in 10 minutes at most"),
        ("60", "in 2 hours at most"),
        ("0.05", "within a minute"),
    ],
)
def test_the_wait_is_said_in_words_people_use(
    config: dict[str, Any], clock: FixedClock, minutes: str, words: str
) -> None:
    from mapaid.views.posting import public_within

    app = rounds_app(config, clock, minutes)
    with app.test_request_context("/?lang=en"):
        assert public_within(app.extensions["mapaid.schedule"]) == words


def test_conversations_and_messages_change_no_public_answer(
    site: tuple[Flask, Housekeeper], store: Store
) -> None:
    """Item 9: a conversation, its messages and a report of the post are no public change: every public
    answer (bodies and headers) stays as it was, and no round has anything to publish for them."""
    from mapaid.threads import Message, Thread

    app, keeper = site
    client = app.test_client()
    made = post(client, "answer me")
    run_round(app, keeper)
    urls = [*PUBLIC, f"/api/v1/posts/{made['id']}", f"/p/{made['id']}"]
    before = seen_all(client, urls)
    day = app.extensions["mapaid.clock"].today().isoformat()
    thread = Thread("c" * 20, made["id"], "key", "hash", day)
    assert store.start_thread(thread, Message("replier", "v1.hello", day), 10, day, "0" * 64) is None
    for n in range(5):
        assert store.add_message(thread.id, Message("poster", f"v1.{n}", day), 10, day) == n + 2
    assert store.add_report(made["id"], "other", app.extensions["mapaid.clock"].today())
    assert seen_all(client, urls) == before
    from mapaid import rounds

    assert not rounds.publish(store).any
    assert seen_all(client, urls) == before
