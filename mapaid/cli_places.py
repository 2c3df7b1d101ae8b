"""``mapaid places``: load named places (streets, metro, stops ...) for the search box and list them."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from tqdm import tqdm

from mapaid import placeload, places
from mapaid.cli_support import cli_store
from mapaid.store import Store

PROGRESS_FROM = 2_000_000  # bytes; smaller files load before a bar would help


def load_file(store: Store, path: Path, fmt: str | None = None, progress: bool | None = None) -> str:
    """Read, clip and store the places in ``path``; returns a line saying what was loaded."""
    if not store.has_districts():
        raise click.ClickException("load the districts first (`mapaid init-db`): places are clipped to them")
    size = path.stat().st_size
    show = progress if progress is not None else (size >= PROGRESS_FROM and sys.stderr.isatty())
    started = time.monotonic()
    with tqdm(
        total=size, unit="B", unit_scale=True, desc=path.name, file=sys.stderr, disable=not show
    ) as bar:

        def advance(n: int) -> None:
            bar.update(n)

        try:
            found = placeload.read(path, fmt, advance if show else None)
        except placeload.PlacesError as exc:
            raise click.ClickException(str(exc)) from None
    kept = places.inside(store, found)
    if not kept:
        xs = [p.lon for p in found]
        ys = [p.lat for p in found]
        raise click.ClickException(
            f"{path.name}: none of its {len(found)} named places lies in the served area (they span "
            f"{min(xs):.3f}..{max(xs):.3f} E, {min(ys):.3f}..{max(ys):.3f} N)"
        )
    total = places.add(store, kept)
    return (
        f"{path.name}: {len(kept)} of {len(found)} named places in the served area; {total} places in all "
        f"({time.monotonic() - started:.1f} s)"
    )


@click.group("places")
def places_group() -> None:
    """Named places (streets, squares, stops, metro, schools, shops, parks) the map's search box finds.

    The page downloads them all and searches in the browser: what a resident types never leaves it.
    """


@places_group.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(placeload.FORMATS),
    help="The file's format (default: from its name: .osm/.osm.bz2, .csv, .geojson/.json).",
)
def places_load(file: Path, fmt: str | None) -> None:
    """Add the named places in FILE that lie in the served area.

    FILE is OpenStreetMap XML (.osm, .osm.bz2), metro4all's stations.csv or portals.csv, the
    opendataby street list (be-tarask.json), or a CSV (lat, lon, name, optional name_be, name_ru,
    name_en, kind) or GeoJSON list of named features. A place already loaded (same kind, a name in
    common, close by) is merged, gaining the names in other languages.
    """
    with cli_store() as store:
        click.echo(load_file(store, file, fmt))


@places_group.command("list")
def places_list() -> None:
    """How many places of each kind are loaded."""
    with cli_store() as store:
        counts = places.count(store)
        for kind, n in sorted(counts.items()):
            click.echo(f"{kind}\t{n}")
        click.echo(f"total\t{sum(counts.values())}")


@places_group.command("clear")
def places_clear() -> None:
    """Remove every place (before loading others)."""
    with cli_store() as store:
        places.clear(store)
    click.echo("no places loaded")
