"""Files under ``/export/``: every format is a download (GeoJSON too), named by the address's last part.

``Content-Disposition: attachment`` makes a browser save ``posts.geojson`` instead of showing it; scripts
(``fetch()``, uMap, GDAL) ignore it. A name that is not plain ASCII gets RFC 6266's ``filename*`` (UTF-8,
percent-encoded) beside an ASCII ``filename`` for older clients. Byte ranges of the same files (GDAL's
``/vsicurl/`` reads a GeoPackage a page at a time) are answered in mapaid.httpcache, with the validators.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from flask import request
from flask.wrappers import Response

PREFIX = "/export/"
_PLAIN = re.compile(r"[A-Za-z0-9._-]+")


def is_download(response: Response) -> bool:
    """A successful GET or HEAD of a file under /export/."""
    return (
        request.method in ("GET", "HEAD")
        and request.path.startswith(PREFIX)
        and response.status_code == 200
        and response.mimetype != "text/html"
    )


def attachment(filename: str) -> str:
    """The Content-Disposition value for saving ``filename`` (RFC 6266)."""
    if _PLAIN.fullmatch(filename):
        return f"attachment; filename={filename}"
    folded = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    fallback = re.sub(r"[^A-Za-z0-9._-]+", "_", folded).strip("_") or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def disposition(response: Response) -> None:
    """Name the download after the address (``/export/posts.geojson`` saves as ``posts.geojson``), unless
    the view named it itself."""
    if "Content-Disposition" not in response.headers:
        response.headers["Content-Disposition"] = attachment(request.path.rsplit("/", 1)[-1])
