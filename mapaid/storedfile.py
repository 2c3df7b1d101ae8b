"""An answer whose body is a file of the export cache (mapaid.exportfiles), sent as it is.

The view opens the file (and its gzip when the client takes gzip) and hands this response on without a
body; ``public.finish`` gives it the same headers as any public read (CORS, ``Content-Disposition``,
``Vary``) and mapaid.httpcache's ``send_stored`` attaches the chosen file and answers ETag, 304 and ranges
from what was stored beside it: the body is never read into memory, hashed or compressed again. Under
waitress the file goes out through its file wrapper, a block at a time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO

from flask.wrappers import Response

if TYPE_CHECKING:
    from mapaid.exportfiles import Entry


class StoredFile(Response):
    """A 200 answer of ``entry``, with its body (``plain``) and gzip (``packed``) open; both are closed
    when the answer is."""

    def __init__(self, entry: Entry, plain: BinaryIO, packed: BinaryIO | None, content_type: str) -> None:
        super().__init__(content_type=content_type)
        self.entry = entry
        self.plain = plain
        self.packed = packed
        self.call_on_close(self._close_files)

    def _close_files(self) -> None:
        self.plain.close()
        if self.packed is not None:
            self.packed.close()
