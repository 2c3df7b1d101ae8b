"""``mapaid reply ...``: take part in private replies from a terminal or a bot, over the HTTP API.

This is a client of any mapaid server, never of the local database: it encrypts and decrypts here
(mapaid.replycrypto) and sends the server only public keys and ciphertext, as a browser does. A private
link's ``#k=...`` fragment holds the private key; it is read here and never sent anywhere (the requests go
to the API's addresses, built from the link's id and token). Standard library only (urllib).
"""

from __future__ import annotations

import json
import re
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import click

from mapaid import replycrypto
from mapaid.replycrypto import BadKey, BadMessage, Party

TIMEOUT = 30  # seconds per request
_LINK = re.compile(r"^(?P<root>.*)/(?P<kind>thread|manage)/(?P<id>[^/?#]+)/(?P<token>[^/?#]+)/?$")
_POST_ID = re.compile(r"^[0-9a-f]{20}$")


@dataclass(frozen=True)
class Link:
    """A private link, taken apart: the server (scheme, host and any path prefix), which kind, the id,
    the token and the private key from ``#k=`` (None when the link has none)."""

    server: str
    kind: str  # "thread" (a replier's) or "manage" (a poster's)
    id: str
    token: str
    key: str | None


def parse_link(text: str) -> Link:
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter("give the whole private link, starting with http:// or https://")
    found = _LINK.match(parts.path)
    if not found:
        raise click.BadParameter("not a private link: it has /thread/<id>/<token> or /manage/<id>/<token>")
    fragment = dict(p.split("=", 1) for p in parts.fragment.split("&") if "=" in p)
    server = f"{parts.scheme}://{parts.netloc}{found['root']}"
    return Link(server, found["kind"], found["id"], found["token"], fragment.get("k") or None)


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


def _read_out(party: Party, messages: list[dict[str, str]], you: str) -> list[str]:
    lines = []
    for item in messages:
        sender = item["from"]
        who = "you" if sender == you else sender
        try:
            text = party.read(item["message"], "poster" if sender == "poster" else "replier")
        except BadMessage:
            text = "[this message was changed or damaged and cannot be read]"
        lines.append(f"{item['day']} {who}: {text}")
    return lines


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
        "POST", f"/api/v1/posts/{post_id}/threads", {"key": keys.public, "message": party.write(message)}
    )
    click.echo(f"{_origin(api.server)}{started['link']}#k={keys.private}")


@reply_group.command("read", short_help="Decrypt and print a conversation, or all of a post's.")
@click.argument("link")
def read(link: str) -> None:
    """Decrypt and print a conversation, oldest message first: yours for a /thread/ link, or every
    conversation with your post for its /manage/ link (each headed by its id, for `write --thread`)."""
    parsed = parse_link(link)
    key = _key(parsed)
    api = Api(parsed.server)
    if parsed.kind == "thread":
        thread = api.call("GET", f"/api/v1/threads/{parsed.id}", headers={"X-Thread-Token": parsed.token})
        party = Party(thread["post"], thread["post_key"], thread["replier_key"], key, poster=False)
        click.echo("\n".join(_read_out(party, thread["messages"], "replier")))
        return
    listed = api.call("GET", f"/api/v1/posts/{parsed.id}/threads", headers={"X-Post-Token": parsed.token})
    if not listed["threads"]:
        click.echo("no replies yet")
    for i, thread in enumerate(listed["threads"]):
        party = Party(parsed.id, listed["post_key"], thread["replier_key"], key, poster=True)
        click.echo(("\n" if i else "") + f"conversation {thread['thread']}")
        click.echo("\n".join(_read_out(party, thread["messages"], "poster")))


@reply_group.command("write", short_help="Send a message in a conversation.")
@click.argument("link")
@click.argument("text")
@click.option(
    "--thread", "thread_id", help="Which conversation, with a /manage/ link to a post that has several."
)
def write(link: str, text: str, thread_id: str | None) -> None:
    """Send TEXT ('-': read it from standard input) in a conversation: yours for a /thread/ link, or one
    with your post for its /manage/ link (--thread ID when there are several; `read` lists them)."""
    parsed = parse_link(link)
    key = _key(parsed)
    message = _text(text)
    api = Api(parsed.server)
    if parsed.kind == "thread":
        headers = {"X-Thread-Token": parsed.token}
        thread = api.call("GET", f"/api/v1/threads/{parsed.id}", headers=headers)
        party = Party(thread["post"], thread["post_key"], thread["replier_key"], key, poster=False)
        target = parsed.id
    else:
        headers = {"X-Post-Token": parsed.token}
        listed = api.call("GET", f"/api/v1/posts/{parsed.id}/threads", headers=headers)
        threads = {t["thread"]: t for t in listed["threads"]}
        if thread_id is None and len(threads) == 1:
            thread_id = next(iter(threads))
        if thread_id is None:
            raise click.BadParameter(
                "this post has "
                + (
                    f"{len(threads)} conversations; say which with --thread ID"
                    if threads
                    else "no replies yet"
                ),
                param_hint="--thread",
            )
        if thread_id not in threads:
            raise click.BadParameter("no conversation with this id on this post", param_hint="--thread")
        party = Party(parsed.id, listed["post_key"], threads[thread_id]["replier_key"], key, poster=True)
        target = thread_id
    sent = api.call("POST", f"/api/v1/threads/{target}/messages", {"message": party.write(message)}, headers)
    click.echo(f"sent ({sent['messages']} messages in the conversation)")
