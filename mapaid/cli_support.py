"""Plumbing every ``mapaid`` command shares: settings, the store, intake rules and the resolution check.

Its own module so the command modules (``mapaid.cli``, ``mapaid.cli_coordinator``) import it rather than
each other; failures become ``click.ClickException`` so a person at a terminal sees one clear line.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import click

from mapaid import clock
from mapaid.config import ConfigError, Settings, load_settings
from mapaid.districts import DistrictError
from mapaid.intake import Rules
from mapaid.queryargs import BadArgument
from mapaid.store import Store, StoreError, open_store


def cli_clock() -> clock.Clock:
    """The clock commands date things by: the system's UTC clock, unless the caller passed another as
    ``obj={"clock": ...}`` (tests do, through ``CliRunner.invoke``)."""
    obj = click.get_current_context().find_root().obj
    return clock.check(obj.get("clock") if isinstance(obj, dict) else None)


def today() -> date:
    """Today's UTC date by the command's clock."""
    return cli_clock().today()


def cli_settings() -> Settings:
    """The settings from MAPAID_* variables, read once per command line (cached on the root context)."""
    ctx = click.get_current_context()
    cached: Settings | None = ctx.find_root().meta.get("settings")
    if cached is None:
        try:
            cached = load_settings()
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        ctx.find_root().meta["settings"] = cached
    return cached


@contextmanager
def cli_store(create: bool = False) -> Iterator[Store]:
    """The configured store, closed afterwards; store and district errors become one-line messages."""
    try:
        store = open_store(cli_settings().database, create=create)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        yield store
    except (StoreError, DistrictError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()


def cli_rules(settings: Settings) -> Rules:
    """Intake rules for today from the settings."""
    return Rules.from_settings(settings, today())


def check_res(store: Store, settings: Settings) -> None:
    """Refuse to mix H3 resolutions: cells of another resolution would not match the stored ones."""
    stored = store.get_meta("cell_res")
    if stored is not None and int(stored) != settings.cell_res:
        raise click.ClickException(
            f"this database holds posts at H3 resolution {stored}, but MAPAID_CELL_RES is "
            f"{settings.cell_res}; use the same resolution or a new database"
        )


def bad_option(error: BadArgument) -> click.BadParameter:
    """A request argument the one parser (mapaid.queryargs) refused, as click's error for its option."""
    hint = f"--{error.field}"
    if error.field == "district":
        return click.BadParameter(f"{error.message}; see `mapaid districts list`", param_hint=hint)
    return click.BadParameter(str(error.message), param_hint=hint)
