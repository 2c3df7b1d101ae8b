"""``mapaid network``: build walking distances from OpenStreetMap streets, and say what is built.

Registered on the main group by ``mapaid.cli``. A build reads and computes everything first and writes
once, in one transaction (``Store.replace_walks``): a file we cannot use, or an interruption, leaves the
walking distances as they were.
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from mapaid.cli_support import check_res, cli_settings, cli_store, today
from mapaid.network import LIMIT_M, SNAP_MAX_M, cell_distances
from mapaid.osmgraph import NetworkError, build_graph
from mapaid.store import Store


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _built_from(store: Store, sha256: str, res: int) -> bool:
    return (
        store.walks() is not None
        and store.get_meta("network_sha256") == sha256
        and store.get_meta("network_res") == str(res)
    )


def _advance(bar: tqdm[Any], n: int) -> None:
    bar.update(n)


@click.group("network")
def network_group() -> None:
    """Walking distances on the street network (OpenStreetMap), instead of the straight-line estimate.

    Where the graph covers both cells, pages, exports, the API and `mapaid report` use the distance on
    foot by the streets; elsewhere the estimate (straight line between hexagon centres x 1.3).
    """


@network_group.command("build")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--if-changed", is_flag=True, help="Do nothing when the graph was built from this very file.")
def network_build(file: Path, if_changed: bool) -> None:
    """Build walking distances between all served cells from FILE (.osm, .osm.bz2 or .osm.pbf).

    Keeps the ways a person can walk (mapaid/walkable.py), clips them to the served area, snaps each
    cell's centre to the nearest walkable point and stores every walk of up to 1,500 m between cell
    centres, replacing the previous graph's in one transaction.
    """
    settings = cli_settings()
    started = time.monotonic()
    with cli_store() as store:
        check_res(store, settings)
        sha256 = _sha256(file)
        if if_changed and _built_from(store, sha256, settings.cell_res):
            click.echo(f"walking distances already built from {file.name}")
            return
        area = store.area()
        show = sys.stderr.isatty()
        try:
            with tqdm(desc=f"reading {file.name}", unit=" ways", file=sys.stderr, disable=not show) as bar:
                graph = build_graph(file, area, lambda n: _advance(bar, n))
        except NetworkError as exc:
            raise click.ClickException(str(exc)) from None
        served = len(area.table(settings.cell_res).cells)
        with tqdm(total=served, desc="walks", unit=" cells", file=sys.stderr, disable=not show) as bar:
            walks = cell_distances(graph, area, settings.cell_res, lambda n: _advance(bar, n))
        if len(walks.cells) == 0:
            raise click.ClickException(
                f"{file.name} does not overlap the served area: no served hexagon's centre lies within "
                f"{SNAP_MAX_M:.0f} m of its walkable ways"
            )
        info = {
            "file": file.name,
            "sha256": sha256,
            "day": today().isoformat(),
            "res": str(settings.cell_res),
            "ways": str(graph.ways),
            "nodes": str(graph.nodes),
            "cells": str(len(walks.cells)),
            "pairs": str(walks.pairs),
        }
        store.replace_walks(walks, info)
    click.echo(
        f"walking graph from {file.name}: {graph.ways} walkable ways, {graph.segments} segments; "
        f"{len(walks.cells)} of {served} served hexagons covered ({len(walks.cells) / served:.1%}); "
        f"{walks.pairs} walks up to {LIMIT_M:.0f} m, {walks.nbytes() / 1024:.0f} KB "
        f"({time.monotonic() - started:.1f} s)"
    )


@network_group.command("status")
def network_status() -> None:
    """Say which street graph walking distances come from, and how much of the served area it covers."""
    settings = cli_settings()
    with cli_store() as store:
        walks = store.walks()
        served = len(store.area().table(settings.cell_res).cells)
        if walks is None or store.get_meta("network_res") != str(settings.cell_res):
            click.echo(
                "no street graph: every walking distance is an estimate (straight line x 1.3); "
                "build one with `mapaid network build FILE`"
            )
            return
        click.echo(
            f"street graph from {store.get_meta('network_file')}, built {store.get_meta('network_day')}: "
            f"{store.get_meta('network_ways')} walkable ways, {walks.pairs} walks up to {LIMIT_M:.0f} m"
        )
        click.echo(
            f"covers {len(walks.cells)} of {served} served hexagons ({len(walks.cells) / served:.1%}); "
            "walks between covered hexagons are on foot by the streets, the rest estimates"
        )
