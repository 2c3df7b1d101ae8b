"""``mapaid reply ...``: take part in private replies from a terminal or a bot, over the HTTP API.

This is a client of any mapaid server, never of the local database: it encrypts and decrypts here
(mapaid.replycrypto, mapaid.replythread) and sends the server only public keys and ciphertext, as a browser
does. A private link's ``#k=...`` fragment holds the private key (and a replier's ``&p=...`` the post key's
fingerprint); it is read here and never sent anywhere (the requests go to the API's addresses, built from
the link's id and token). Like the browser, it reads a conversation in order, stops at the first message
that was changed, moved or re-dated on the server, and then refuses to write in it. Standard library only
(urllib).
"""

from __future__ import annotations

import json
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import click

from mapaid import replycrypto
from mapaid.replycrypto import BadKey, BadMessage
from mapaid.replythread import Party, Reading

TIMEOUT = 30  # seconds per request
_LINK = re.compile(r"^(?P<root>.*)/(?P<kind>thread|manage)/(?P<id>[^/?#]+)/(?P<token>[^/?#]+)/?$")
_POST_ID = re.compile(r"^[0-9a-f]{20}$")


@dataclass(frozen=True)
class Link:
    """A private link, taken apart: the server (scheme, host and any path prefix), which kind, the id,
    the token, the private key from ``#k=`` (None when the link has none) and a replier's link's
    fingerprint of the post key from ``&p=`` (None on links made before it was added)."""

    server: str
    kind: str  # "thread" (a replier's) or "manage" (a poster's)
    id: str
    token: str
    key: str | None
    post_print: str | None = None


def parse_link(text: str) -> Link:
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter("give the whole private link, starting with http:// or https://")
    found = _LINK.match(parts.path)
    if not found:
        raise click.BadParameter("not a private link: it has /thread/<id>/<token> or /manage/<id>/<token>")
    fragment = dict(p.split("=", 1) for p in parts.fragment.split("&") if "=" in p)
    server = f"{parts.scheme}://{parts.netloc}{found['root']}"
    return Link(
        server,
        found["kind"],
        found["id"],
        found["token"],
        fragment.get("k") or None,
        fragment.get("p") or None,
    )


class Api:
    """The few calls this command makes, with the server's own error message on a 4xx."""

    def __init__(self, server: str) -> None:
        self.server = server.rstrip("/")

    def call(self, method: str, path: str, body: object = None, headers: dict[str, str] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked to be http(s) above
            self.server + path,
            data=data,
            method=method,
            headers={"Accept": "application/json", **(headers or {})},
        )
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            raise click.ClickException(f"the server answered {error.code}: {_message(error)}") from None
        except urllib.error.URLError as error:
            raise click.ClickException(f"cannot reach {self.server}: {error.reason}") from None


def _message(error: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(error.read())["error"])
    except (ValueError, KeyError, TypeError):
        return str(error.reason)


def _origin(server: str) -> str:
    parts = urlsplit(server)
    return f"{parts.scheme}://{parts.netloc}"


def _text(text: str) -> str:
    """The message: TEXT, or standard input for ``-`` (a bot's pipe)."""
    value = sys.stdin.read() if text == "-" else text
    value = value.strip()
    if not value:
        raise click.BadParameter("the message is empty", param_hint="TEXT")
    return value


def _key(link: Link) -> str:
    if link.key is None:
        raise click.BadParameter(
            "this link has no #k=... part, which holds the key that reads and writes the replies; use the "
            "whole link as it was given"
        )
    try:
        replycrypto.load_private(link.key)
    except BadKey:
        raise click.BadParameter(
            "the #k=... part of this link is not a private key (was it cut short?)"
        ) from None
    return link.key


def _fits(private: str, public: object) -> bool:
    """Whether a link's private key is the one of the public key the server hands out."""
    try:
        own = replycrypto.load_private(private)
        return isinstance(public, str) and replycrypto.public_text(own.public_key()) == public
    except BadKey:
        return False


def _checked(link: Link, key: str, thread: dict[str, Any]) -> None:
    """Refuse a conversation whose keys are not the link's: its replier key (the link's own), and the post
    key the link's ``&p=`` fingerprint names (a key swapped on the server would read the next message)."""
    if link.kind == "thread" and not _fits(key, thread.get("replier_key")):
        raise click.ClickException("the key in this link does not fit this conversation; use the whole link")
    post_key = thread.get("post_key")
    if link.kind == "manage" and not _fits(key, post_key):
        raise click.ClickException("the key in this link does not fit this post; use the whole link")
    if link.post_print is not None and (
        not isinstance(post_key, str) or replycrypto.fingerprint(post_key) != link.post_print
    ):
        raise click.ClickException(
            "the post's key on the server is not the one this conversation began with: someone may have"
            " changed it to read your next message. Nothing was read or sent."
        )


def _read_out(reading: Reading, you: str) -> list[str]:
    lines = [f"{s.day} {'you' if s.sender == you else s.sender}: {s.text}" for s in reading.shown]
    if not reading.intact:
        lines.append(
            f"[the next message was {_WHY[reading.why or 'damaged']} on the server; the conversation stops"
            f" here ({reading.unread} later messages not read) and takes no answer]"
        )
    return lines


_WHY = {"damaged": "changed or damaged", "order": "moved, repeated or removed", "day": "re-dated"}


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


@click.group("reply")
def reply_group() -> None:
    """Private replies to posts, encrypted here: only the two sides can read them (docs/replies.md).

    A private link's #k=... part is the key: keep it to yourself, and quote the whole link in shells
    ('...'), since # and & mean something to them.
    """


@reply_group.command("answer", short_help="Answer a post privately; prints your private link.")
@click.argument("post")
@click.argument("text")
@click.option(
    "--server", help="The site, e.g. https://mapaid.example (needed when POST is an id, not a URL)."
)
def answer(post: str, text: str, server: str | None) -> None:
    """Start a private conversation with POST (its page's URL or its id) by sending TEXT ('-': read it
    from standard input). Prints your private link, with #k=...: keep it to read the answer
    (`mapaid reply read LINK`) and to write again (`mapaid reply write LINK TEXT`)."""
    parts = urlsplit(post)
    if parts.scheme in ("http", "https"):
        segments = [s for s in parts.path.split("/") if s]
        post_id = next((s for s in reversed(segments) if _POST_ID.match(s)), "")
        server = server or f"{parts.scheme}://{parts.netloc}"
    else:
        post_id = post.strip()
    if not _POST_ID.match(post_id):
        raise click.BadParameter("give a post's URL or its id (20 hex digits)", param_hint="POST")
    if not server:
        raise click.BadParameter("say which site with --server URL", param_hint="--server")
    if urlsplit(server).scheme not in ("http", "https"):
        raise click.BadParameter(
            "the server's address starts with http:// or https://", param_hint="--server"
        )
    message = _text(text)
    api = Api(server)
    post_key = api.call("GET", f"/api/v1/posts/{post_id}")["properties"].get("reply_key")
    if not post_key:
        raise click.ClickException("this post takes no private replies (its poster made it without a key)")
    try:
        curve = replycrypto.curve_of(replycrypto.load_public(post_key))
    except BadKey:
        raise click.ClickException("the post's key is not one this program can use") from None
    keys = replycrypto.generate(curve)
    party = Party(post_id, post_key, keys.public, keys.private, poster=False)
    started = api.call(
        "POST",
        f"/api/v1/posts/{post_id}/threads",
        {"key": keys.public, "message": party.write(message, _today())},
    )
    fragment = f"#k={keys.private}&p={replycrypto.fingerprint(post_key)}"
    click.echo(f"{_origin(api.server)}{started['link']}{fragment}")


def _pages(api: Api, link: Link) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Every conversation with a poster's post, a page at a time: (the page, one thread of it)."""
    headers = {"X-Post-Token": link.token}
    number, pages = 1, 1
    while number <= pages:
        listed = api.call("GET", f"/api/v1/posts/{link.id}/threads?page={number}", headers=headers)
        pages = int(listed["pages"])
        for thread in listed["threads"]:
            yield listed, thread
        number += 1


@reply_group.command("read", short_help="Decrypt and print a conversation, or all of a post's.")
@click.argument("link")
def read(link: str) -> None:
    """Decrypt and print a conversation, oldest message first: yours for a /thread/ link, or every
    conversation with your post for its /manage/ link, newest first (each headed by its id, for
    `write --thread` and `delete --thread`)."""
    parsed = parse_link(link)
    key = _key(parsed)
    api = Api(parsed.server)
    if parsed.kind == "thread":
        thread = api.call("GET", f"/api/v1/threads/{parsed.id}", headers={"X-Thread-Token": parsed.token})
        _checked(parsed, key, thread)
        party = Party(thread["post"], thread["post_key"], thread["replier_key"], key, poster=False)
        click.echo("\n".join(_read_out(party.read_api(thread["messages"]), "replier")))
        return
    empty = True
    for listed, thread in _pages(api, parsed):
        if empty:
            _checked(parsed, key, listed)
        party = Party(parsed.id, listed["post_key"], thread["replier_key"], key, poster=True)
        click.echo(("" if empty else "\n") + f"conversation {thread['thread']}")
        click.echo("\n".join(_read_out(party.read_api(thread["messages"]), "poster")))
        empty = False
    if empty:
        click.echo("no replies yet")


def _conversation(api: Api, link: Link, thread_id: str | None) -> tuple[str, dict[str, str]]:
    """Which conversation a write or delete is about, and the header that authorises it."""
    if link.kind == "thread":
        return link.id, {"X-Thread-Token": link.token}
    headers = {"X-Post-Token": link.token}
    if thread_id is None:
        listed = api.call("GET", f"/api/v1/posts/{link.id}/threads", headers=headers)
        total = int(listed["total"])
        if total != 1:
            raise click.BadParameter(
                f"this post has {total} conversations; say which with --thread ID"
                if total
                else "this post has no replies yet",
                param_hint="--thread",
            )
        thread_id = str(listed["threads"][0]["thread"])
    return thread_id, headers


@reply_group.command("write", short_help="Send a message in a conversation.")
@click.argument("link")
@click.argument("text")
@click.option(
    "--thread", "thread_id", help="Which conversation, with a /manage/ link to a post that has several."
)
def write(link: str, text: str, thread_id: str | None) -> None:
    """Send TEXT ('-': read it from standard input) in a conversation: yours for a /thread/ link, or one
    with your post for its /manage/ link (--thread ID when there are several; `read` lists them). The
    conversation is read first: one that was changed on the server takes no message."""
    parsed = parse_link(link)
    key = _key(parsed)
    message = _text(text)
    api = Api(parsed.server)
    target, headers = _conversation(api, parsed, thread_id)
    thread = api.call("GET", f"/api/v1/threads/{target}", headers=headers)
    _checked(parsed, key, thread)
    party = Party(
        thread["post"], thread["post_key"], thread["replier_key"], key, poster=parsed.kind == "manage"
    )
    reading = party.read_api(thread["messages"])
    if not reading.intact:
        raise click.ClickException(
            "this conversation was changed on the server (a message was altered, moved, removed or"
            " re-dated), so nothing more can be sent in it; `mapaid reply read` shows where it stops"
        )
    try:
        wire = party.write(message, str(thread["today"]), reading)
    except BadMessage as error:
        raise click.BadParameter(str(error), param_hint="TEXT") from None
    sent = api.call("POST", f"/api/v1/threads/{target}/messages", {"message": wire}, headers)
    click.echo(f"sent ({sent['messages']} messages in the conversation)")


@reply_group.command("delete", short_help="Delete a conversation with your post and block its sender.")
@click.argument("link")
@click.option("--thread", "thread_id", required=True, help="Which conversation (`read` lists their ids).")
def delete(link: str, thread_id: str) -> None:
    """Delete a conversation with your post (its /manage/ link): its messages go, and its sender's key
    can start no other conversation with the post."""
    parsed = parse_link(link)
    if parsed.kind != "manage":
        raise click.BadParameter("give your post's private link (/manage/...)", param_hint="LINK")
    Api(parsed.server).call("DELETE", f"/api/v1/threads/{thread_id}", headers={"X-Post-Token": parsed.token})
    click.echo("deleted; its sender can start no other conversation with your post")
