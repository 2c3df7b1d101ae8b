"""Publication rounds on a live site (issue 17, item 2): a real `mapaid serve` with six-second windows
(``MAPAID_PUBLISH_MINUTES=0.1``) and a poller reading ``/counts.json`` four times a second while posts
come at random moments: every change the poller sees falls on one of the server's secret round moments
(computed here from the shared test secret), never on a post's; and, in Chromium on a phone, the poster's
private link shows the pending post and a waiting edit, with when others will see them, in Belarusian,
Russian and English."""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h3.api.basic_int as h3
import pytest
from conftest import ROOMY_LIMITS, TEST_SECRET
from livesite import Watch, serve, serve_process, shot
from playwright.sync_api import Browser

from mapaid import create_app
from mapaid.rounds import Schedule

CELL = h3.int_to_str(h3.latlng_to_cell(53.9023, 27.5619, 9))
WINDOW_MS = 6000
LATE_S = 1.5  # how late a busy machine may wake the server's housekeeper after a round's moment


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())


def _post(base: str, text: str) -> dict[str, Any]:
    body = json.dumps({"kind": "need", "category": "food", "text": text, "cell": CELL}).encode()
    request = urllib.request.Request(
        f"{base}/api/v1/posts", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        made: dict[str, Any] = json.loads(answer.read())
    return made


class Poller(threading.Thread):
    """Reads the counts every quarter second: (asked at, answered at, needs counted) per read."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.reads: list[tuple[float, float, int]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            asked = time.time()
            areas = _get(f"{self.base}/counts.json?res=district")["areas"]
            self.reads.append((asked, time.time(), sum(a[2] for a in areas)))
            self.stopping.wait(0.25)


def test_a_live_server_changes_its_public_answers_only_at_its_round_moments(
    database: str, tmp_path: Path
) -> None:
    env = {
        "MAPAID_DATABASE": database,
        "MAPAID_SECRET_KEY": TEST_SECRET,
        "MAPAID_INSTANCE": str(tmp_path / "instance"),
        "MAPAID_CELL_RES": "9",
        "MAPAID_PUBLISH_MINUTES": "0.1",
        **{f"MAPAID_{k}": v for k, v in ROOMY_LIMITS.items()},
    }
    schedule = Schedule(WINDOW_MS, TEST_SECRET.encode())
    random.seed(17)
    with serve_process(env, tmp_path / "serve.log") as base:
        poller = Poller(base)
        poller.start()
        time.sleep(1)
        posted: list[float] = []
        for i in range(8):
            time.sleep(random.uniform(0.3, 2.5))
            posted.append(time.time())
            assert _post(base, f"live soup {i}")["published"] is False
        deadline = time.time() + 2 * WINDOW_MS / 1000 + 10
        while poller.reads[-1][2] < 8 and time.time() < deadline:
            time.sleep(0.25)
        poller.stopping.set()
        poller.join(10)
    reads = poller.reads
    assert reads[-1][2] == 8, "not every post was published within two windows"
    moments = [
        schedule.moment_ms(w) / 1000
        for w in range(schedule.window(_utc(reads[0][0])) - 1, schedule.window(_utc(reads[-1][1])) + 2)
    ]
    # Every change the poller saw lies between two reads that enclose a round's moment (the server may
    # wake a little late), and no post showed before the first round after it was made (a round the server
    # ran late takes what came meanwhile: the round is when it runs, which no poster chooses).
    for (asked_before, _, seen_before), (_, answered, seen_now) in itertools.pairwise(reads):
        if seen_now != seen_before:
            assert any(asked_before - LATE_S <= m <= answered for m in moments), (asked_before, answered)
    for i, made in enumerate(posted):
        first_round = min(m for m in moments if m > made - LATE_S)
        shown = min(answered for _, answered, seen in reads if seen >= 1 + i)
        assert shown >= first_round, (made, first_round, shown)


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


# -- the poster's private link in a phone's browser ---------------------------------------------------

PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
WORDS = {
    "en": ("Others will see it on the map within an hour", "Others will see your change within an hour"),
    "ru": ("Другие увидят его на карте в течение часа", "Другие увидят ваше изменение в течение часа"),
    "be": ("Іншыя ўбачаць яго на мапе на працягу гадзіны", "Іншыя ўбачаць вашу змену на працягу гадзіны"),
}


@pytest.fixture(scope="module")
def waiting_site(live_config: dict[str, Any]) -> Iterator[str]:
    """A site publishing in half-hour rounds (none comes during the test: its housekeeper never runs)."""
    with serve(create_app({**live_config, "TESTING": False, "PUBLISH_MINUTES": "30"})) as base:
        yield base


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["be", "ru", "en"])
def test_the_private_link_shows_a_pending_post_on_a_phone(
    browser: Browser, waiting_site: str, live_store: Any, lang: str
) -> None:
    base = waiting_site
    context = browser.new_context(**PHONE, locale=lang)  # type: ignore[arg-type]
    page = context.new_page()
    watch = Watch(page)
    page.goto(f"{base}/post?cell={CELL}&kind=need&lang={lang}")
    page.select_option("#category", "medicine")
    page.fill("#text", f"Insulin pens ({lang})")
    page.click("#submit")
    page.wait_for_selector("#new-post")
    pending, change = WORDS[lang]
    assert pending in page.locator("#round-wait").inner_text()
    assert f"Insulin pens ({lang})" in page.locator(".post-text").inner_text()
    post_id = page.url.rsplit("/", 2)[1]
    assert urllib.request.urlopen(f"{base}/api/v1/districts").status == 200
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{base}/p/{post_id}")
    assert missing.value.code == 404  # nobody else sees it yet
    shot(page, f"rounds-pending-phone-{lang}")
    # Published at a round (run here by hand), then edited: the edit waits, the link shows it.
    from mapaid import rounds

    rounds.publish(live_store)
    page.reload()
    assert page.locator("#round-wait").count() == 0
    page.click("#change-post summary")  # folded since issue 18, item 2
    page.fill("#new-text", f"Insulin pens and strips ({lang})")
    page.click("#edit")
    page.wait_for_selector(".success[role=status]")
    assert change in page.locator("#round-wait").inner_text()
    assert f"Insulin pens and strips ({lang})" in page.locator(".post-text").inner_text()
    public = json.loads(urllib.request.urlopen(f"{base}/api/v1/posts/{post_id}").read())
    assert public["properties"]["text"] == f"Insulin pens ({lang})"  # others still see the old text
    shot(page, f"rounds-waiting-edit-phone-{lang}")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, width  # nothing wider than the phone
    assert not watch.errors, watch.errors
    context.close()
