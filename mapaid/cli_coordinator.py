"""``mapaid coordinator ...`` (accounts) and ``mapaid report`` (unmet needs per district), for the terminal.

Registered on the main group by ``mapaid.cli``; the report reads the same ``unmet.store_unmet`` and
``unmet.district_table`` the coordinator page and the exports use, so the numbers cannot drift apart.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import click
import pandas as pd

from mapaid import accounts
from mapaid.cli_support import cli_settings, cli_store, today
from mapaid.spatial import DEFAULT_WITHIN, WITHIN_CHOICES
from mapaid.unmet import district_table, store_unmet


@click.group()
def coordinator() -> None:
    """Coordinator accounts: people who see unmet needs and moderate posts on /coordinator."""


def _password_option(command: Callable[..., None]) -> Callable[..., None]:
    return click.option(
        "--password-stdin", is_flag=True, help="Read the password from the first line of standard input."
    )(command)


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@coordinator.command("add")
@click.argument("name")
@_password_option
def coordinator_add(name: str, password_stdin: bool) -> None:
    """Add coordinator NAME; the password is asked for (twice) unless --password-stdin.

    Passwords are stored as argon2id hashes only; at least 10 characters."""
    password = _read_password(password_stdin)
    with cli_store() as store:
        try:
            accounts.add(store, name, password, today())
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"added coordinator {name}")


@coordinator.command("passwd")
@click.argument("name")
@_password_option
def coordinator_passwd(name: str, password_stdin: bool) -> None:
    """Give coordinator NAME a new password (asked for twice unless --password-stdin).

    Every login made with the old password ends at once, wherever it is."""
    password = _read_password(password_stdin)
    with cli_store() as store:
        try:
            accounts.set_password(store, name, password)
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"new password for coordinator {name}; their logins have ended")


@coordinator.command("remove")
@click.argument("name")
def coordinator_remove(name: str) -> None:
    """Remove coordinator NAME; every login of theirs ends at once."""
    with cli_store() as store:
        if not accounts.remove(store, name):
            raise click.ClickException(f"no coordinator called {name!r}; see `mapaid coordinator list`")
    click.echo(f"removed coordinator {name}")


@coordinator.command("list")
def coordinator_list() -> None:
    """Print each coordinator's name and the day the account was made."""
    with cli_store() as store:
        for c in accounts.list_all(store):
            click.echo(f"{c.name}\t{c.created_day}")


def _percent(share: float) -> str:
    return "—" if pd.isna(share) else f"{share * 100:.1f}%"


def format_report(table: pd.DataFrame, categories: tuple[str, ...], by_category: bool) -> list[str]:
    """The district table as aligned text lines: rank, district, offers, needs, unmet, share met."""
    width = max(8, *(len(str(n)) for n in table["name"]))
    lines = [f"{'rank':>4}  {'district':<{width}}  {'offers':>7} {'needs':>7} {'unmet':>7} {'met':>7}"]
    for values in table.to_dict("records"):
        lines.append(
            f"{values['rank']:>4}  {values['name']:<{width}}  {values['offers']:>7} {values['needs']:>7}"
            f" {values['unmet']:>7} {_percent(values['share_met']):>7}"
        )
        if by_category:
            for cat in categories:
                if values[f"{cat}_offers"] or values[f"{cat}_needs"]:
                    lines.append(
                        f"{'':>4}    {cat:<{width - 2}}  {values[f'{cat}_offers']:>7}"
                        f" {values[f'{cat}_needs']:>7} {values[f'{cat}_unmet']:>7}"
                        f" {_percent(values[f'{cat}_share_met']):>7}"
                    )
    return lines


@click.command()
@click.option(
    "--within",
    type=click.Choice([str(w) for w in WITHIN_CHOICES]),
    default=str(DEFAULT_WITHIN),
    show_default=True,
    help="Walking distance in metres within which an offer meets a need.",
)
@click.option("--by-category", is_flag=True, help="Add a line per category under each district.")
@click.option("--lang", type=click.Choice(["en", "ru", "be"]), default="en", show_default=True)
def report(within: str, by_category: bool, lang: str) -> None:
    """Print offers, needs and unmet needs per district, most unmet first.

    A need is unmet when no open offer of its category lies within walking distance: on foot by the streets
    where `mapaid network build` covered both hexagons, elsewhere the estimate (straight line between cell
    centres x 1.3). The same numbers as /coordinator and /export/districts.csv."""
    settings = cli_settings()
    with cli_store() as store:
        result = store_unmet(store, today(), settings.categories, int(within))
        table = district_table(result, store.area(), lang)
    click.echo(f"unmet needs within {within} m walking, open posts of {today().isoformat()}")
    for line in format_report(table, result.tally.categories, by_category):
        click.echo(line)
    total = table[["offers", "needs", "unmet"]].sum()
    click.echo(f"total: {total['offers']} offers, {total['needs']} needs, {total['unmet']} unmet")
    covered = int(result.tally.needs[result.network].sum())
    click.echo(
        f"walking distance: on foot by the streets for {covered} of {total['needs']} needs "
        "(hexagons the street graph covers, see `mapaid network status`); "
        "the rest estimate: straight line x 1.3"
    )
