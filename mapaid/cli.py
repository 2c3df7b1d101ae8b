"""The ``mapaid`` command: the same pipeline functions the web views call, for people at a terminal."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click
import pandas as pd
from tqdm import tqdm

from mapaid import export as exporter
from mapaid import places, queryargs, renderers, serving
from mapaid.cli_coordinator import coordinator, report
from mapaid.cli_network import network_group
from mapaid.cli_places import load_file, places_group
from mapaid.cli_reply import reply_group
from mapaid.cli_support import bad_option, check_res, cli_clock, cli_rules, cli_settings, cli_store, today
from mapaid.config import DEFAULT_BASEMAP, SHIPPED_GEODATA, Settings
from mapaid.demo import generate
from mapaid.districts import read_districts
from mapaid.geo import choose_metric_crs
from mapaid.importer import read_any
from mapaid.intake import IntakeError
from mapaid.pipeline import Ingested, ingest
from mapaid.store import Store

PROGRESS_FROM = 10_000  # rows; smaller imports finish before a bar would help


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """mapaid: offers and needs of neighbours on a map, with every location coarsened to a hexagon.

    Settings come from MAPAID_* environment variables (see README.md); the database is
    instance/mapaid.sqlite3 unless MAPAID_DATABASE says otherwise.
    """


@main.command("init-db")
def init_db() -> None:
    """Create the database (if needed) and load the configured districts into it when it has none."""
    settings = cli_settings()
    with cli_store(create=True) as store:
        if store.get_meta("cell_res") is None:
            store.set_meta("cell_res", str(settings.cell_res))
        check_res(store, settings)
        if not store.has_districts():
            _load_districts(store, settings.districts, None)
        if settings.places and not places.count(store):
            for path in settings.places:
                click.echo(load_file(store, path))
    click.echo(f"database ready: {settings.database_shown}")


def _load_districts(store: Store, path: Path, name_field: str | None) -> None:
    frame = read_districts(path, name_field)
    crs = choose_metric_crs(frame.total_bounds)
    store.replace_districts(frame, int(crs.to_epsg() or 0))
    click.echo(f"loaded {len(frame)} districts from {path.name}; distances in {crs.name}")


@main.group()
def districts() -> None:
    """Load or list the district polygons posts are joined to."""


@districts.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name-field", help="Attribute holding each district's name (default: name_en or name).")
def districts_load(file: Path, name_field: str | None) -> None:
    """Load districts from FILE (GeoJSON, GeoPackage, Shapefile; any CRS) into an empty database.

    Invalid polygons are repaired where possible; overlapping districts are refused, naming the pair.
    """
    with cli_store(create=True) as store:
        _load_districts(store, file, name_field)


@districts.command("list")
def districts_list() -> None:
    """Print each district's slug and names."""
    with cli_store() as store:
        for d in store.area().by_slug.values():
            click.echo(f"{d.slug}\t{d.name_en}\t{d.name_ru}\t{d.name_be}")


@main.command()
@click.option(
    "--posts",
    "n",
    type=click.IntRange(1, 5_000_000),
    default=1000,
    show_default=True,
    help="How many synthetic posts to make.",
)
@click.option("--seed", type=int, default=2020, show_default=True, help="Random seed, for repeatable data.")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already holds posts.")
def demo(n: int, seed: int, if_empty: bool) -> None:
    """Add synthetic offers and needs, spread like Minsk's 2020 yard chats (no real data)."""
    settings = cli_settings()
    with cli_store() as store:
        if if_empty and store.count():
            click.echo(f"the database already holds {store.count()} posts; no demo data added")
            return
        frame = generate(store.area(), n, seed, settings.categories)
        result = _ingest(store, settings, frame, [f"demo row {i + 1}" for i in range(n)], False)
    click.echo(f"added {len(result.posts)} demo posts")


def _ingest(
    store: Store,
    settings: Settings,
    frame: pd.DataFrame,
    where: Sequence[str],
    skip_invalid: bool,
    progress: bool | None = None,
) -> Ingested:
    """Run the pipeline with a progress bar (two steps a row: coarsening, then writing). By default the
    bar shows on a terminal for imports of PROGRESS_FROM rows or more."""
    check_res(store, settings)
    show = progress if progress is not None else (len(frame) >= PROGRESS_FROM and sys.stderr.isatty())
    with tqdm(
        total=2 * len(frame), unit="step", desc="coarsen + write", file=sys.stderr, disable=not show
    ) as bar:

        def advance(n: int) -> None:
            bar.update(n)

        return ingest(
            frame,
            where,
            cli_rules(settings),
            store,
            settings.secret_key.encode(),
            skip_invalid=skip_invalid,
            progress=advance,
        )


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Import the good rows and list the bad ones (default: import nothing if any row is bad).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar (default: on a terminal, for files of 10,000 rows or more).",
)
def import_(file: Path, skip_invalid: bool, progress: bool | None) -> None:
    """Import offers and needs from a CSV or GeoJSON FILE; exact points are coarsened on the way in.

    CSV columns: lat, lon, kind, category, text, and optionally expires (days or YYYY-MM-DD) and contact.
    GeoJSON: a FeatureCollection of Points with the same properties.
    """
    settings = cli_settings()
    with cli_store() as store:
        try:
            frame, where = read_any(file)
            result = _ingest(store, settings, frame, where, skip_invalid, progress)
        except IntakeError as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            rows_at_fault = any(p.field != "file" for p in exc.problems)
            hint = (
                " (use --skip-invalid to import the good rows)" if rows_at_fault and not skip_invalid else ""
            )
            raise click.ClickException(
                f"{len(exc.problems)} problem(s) in {file.name}; nothing was imported{hint}"
            ) from None
    for problem in result.problems:
        click.echo(f"skipped {problem}", err=True)
    click.echo(
        f"imported {len(result.posts)} posts"
        + (f", skipped {len(result.problems)} bad rows" if result.problems else "")
    )


@main.command("export")
@click.option(
    "--kind",
    multiple=True,
    type=click.Choice(["offer", "need"]),
    help="Only this kind (repeatable).",
)
@click.option("--category", multiple=True, help="Only this category (repeatable).")
@click.option("--district", multiple=True, help="Only this district slug (repeatable).")
@click.option("--format", "fmt", type=click.Choice(renderers.FORMATS), default="geojson", show_default=True)
@click.option(
    "--lang",
    type=click.Choice(["en", "ru", "be"]),
    default="en",
    show_default=True,
    help="Language of district names.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (default: standard output; GeoPackage needs a file).",
)
def export(
    kind: tuple[str, ...],
    category: tuple[str, ...],
    district: tuple[str, ...],
    fmt: str,
    lang: str,
    output: Path | None,
) -> None:
    """Export open, unexpired posts: RFC 7946 GeoJSON (default), CSV or GeoPackage; public fields only."""
    settings = cli_settings()
    with cli_store() as store:
        area = store.area()
        chosen = {"kind": kind, "category": category, "district": district}
        try:
            filters = queryargs.filters(chosen, queryargs.Vocabulary.of(settings.categories, area))
        except queryargs.BadArgument as error:
            raise bad_option(error) from None
        posts = store.posts(
            cli_rules(settings).today, kind=filters.kind, category=filters.category, district=filters.district
        )
        frame = exporter.public_frame(posts, area, settings.cell_res, lang)
    renderer = renderers.RENDERERS[fmt]
    if not renderer.terminal and output is None:
        raise click.UsageError(f"GeoPackage needs a file: add -o FILE.{renderer.extension}")
    body = renderer.posts(frame, renderers.Options(csv_bom=settings.csv_bom))
    if output is None:
        sys.stdout.buffer.write(body)
        return
    output.write_bytes(body)
    click.echo(f"wrote {len(frame)} posts to {output}", err=True)


@main.command("purge-expired")
def purge_expired() -> None:
    """Delete posts whose expiry day has passed (their bytes are overwritten on disk)."""
    with cli_store() as store:
        n = store.purge_expired(today())
        store.erase_removed()
    click.echo(f"deleted {n} expired posts")


@main.command()
def publish() -> None:
    """Run a publication round now: every new post, edit and extension waiting for its round becomes
    public together (the server does this by itself once in each MAPAID_PUBLISH_MINUTES window)."""
    from mapaid import rounds

    with cli_store() as store:
        done = rounds.publish(store)
    click.echo(f"published {done.posts} posts and {done.changes} changes")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=5000,
    show_default=True,
    help="Port to listen on; 0 takes a free one, named in the first line written.",
)
@click.option("--threads", type=click.IntRange(1, 64), default=serving.DEFAULT_THREADS, show_default=True)
def serve(host: str, port: int, threads: int) -> None:
    """Serve the web app with waitress, a production WSGI server; publish in rounds and purge daily.

    Idle connections are closed after 20 s and as many are admitted as the open-file limit allows (raised
    to the system's maximum at start), so held connections cannot stop the site. New posts and changes
    become public at one secret moment in each MAPAID_PUBLISH_MINUTES window. Expired and fulfilled
    posts are deleted at start and a minute after each UTC midnight; what deletions and edits removed
    leaves a PostGIS database's files within 5 minutes. Behind a reverse proxy, see docs/deploy.md and
    MAPAID_TRUSTED_PROXIES.
    Nothing is logged of a request that was answered unless MAPAID_ACCESS_LOG says so; a 5xx answer,
    errors, the start and housekeeping are, without a time of day.
    """
    from waitress.server import create_server

    from mapaid import create_app, logs
    from mapaid.holds import Holds
    from mapaid.housekeeping import Housekeeper
    from mapaid.rounds import Schedule

    app = create_app({"CLOCK": cli_clock()})
    settings: Settings = app.extensions["mapaid.settings"]
    logs.configure(app.url_map)
    with cli_store() as store:  # fail early, with a clear message, when the database is not set up
        store.area()  # the served area and its cell table, built before the first visitor rather than by them
    open_files = serving.raise_open_files()
    options = serving.waitress_options(threads, open_files, app.extensions["mapaid.trusted_proxies"])
    server = create_server(app, host=host, port=port, **options)
    if options["clear_untrusted_proxy_headers"]:  # clients connect themselves: hold the refused (holds.py)
        holds = app.extensions["mapaid.readlimit"].holds = Holds()
        serving.hold_refused(server, holds)
    housekeeper = Housekeeper(
        settings.database,
        cli_clock(),
        app.extensions["mapaid.loginguard"],
        schedule=Schedule.from_settings(settings),
        audit_days=settings.audit_days,
    )
    housekeeper.start()
    traffic = logs.TrafficWriter(app.extensions[logs.TRAFFIC], cli_clock())
    if settings.access_log == "hourly":
        traffic.start()
    for where in serving.addresses(server):
        click.echo(
            f"mapaid on {where} ({options['connection_limit']} connections, {threads} threads)", err=True
        )
    if settings.base_url is None and options["clear_untrusted_proxy_headers"] is False:
        click.echo(
            "warning: MAPAID_BASE_URL is not set: absolute links follow each request's Host header, which a"
            " client chooses (docs/deploy.md)",
            err=True,
        )
    try:
        server.run()
    finally:
        traffic.stop()
        housekeeper.stop()


@main.group()
def basemap() -> None:
    """Our own street and metro layer, drawn under the hexagons (no tiles needed)."""


@basemap.command("build")
@click.option(
    "--from",
    "source",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=SHIPPED_GEODATA,
    show_default=True,
    help="Folder with the sources (minsk-streets-wikidata-be.json, minsk-pass.osm.bz2, minsk-metro-*).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_BASEMAP,
    show_default=True,
    help="The layer file to write (MAPAID_BASEMAP serves it).",
)
def basemap_build(source: Path, output: Path) -> None:
    """Build the layer from the shipped sources: streets simplified to a few metres, 5 decimals, names in
    every language the sources have."""
    from mapaid import basemap as layer

    built = layer.build(source)
    size = layer.write(built, output)
    click.echo(
        f"{len(built['streets'])} streets, {len(built['metro']['stations'])} metro stations: "
        f"{output} ({size:,} bytes)"
    )


main.add_command(coordinator)
main.add_command(report)
main.add_command(places_group)
main.add_command(reply_group)
main.add_command(network_group)


if __name__ == "__main__":
    main()
