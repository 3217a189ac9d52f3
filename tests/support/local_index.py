"""A package index (PEP 503 "simple" pages) on 127.0.0.1 serving the wheels of a wheelhouse.

Lets the image's index path (`WHEELHOUSE` empty, `PIP_INDEX_URL` given) run for real here, where
containers cannot verify the public index's TLS. pip treats 127.0.0.0/8 as a secure origin, so plain
HTTP is accepted without --trusted-host.
"""

from __future__ import annotations

import html
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def normalize(name: str) -> str:
    """PEP 503 project name normalisation."""
    return re.sub(r"[-_.]+", "-", name).lower()


def build_simple_index(wheelhouse: Path, root: Path) -> None:
    """Write root/simple/<project>/index.html pages linking to copies in root/files/."""
    files = root / "files"
    files.mkdir(parents=True)
    projects: dict[str, list[str]] = {}
    for wheel in sorted(wheelhouse.glob("*.whl")):
        shutil.copy2(wheel, files / wheel.name)
        projects.setdefault(normalize(wheel.name.split("-", 1)[0]), []).append(wheel.name)
    for project, wheels in projects.items():
        page = root / "simple" / project / "index.html"
        page.parent.mkdir(parents=True)
        links = "".join(
            f'<a href="../../files/{html.escape(w)}">{html.escape(w)}</a>\n' for w in wheels
        )
        page.write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n")
    listing = "".join(f'<a href="{p}/">{p}</a>\n' for p in sorted(projects))
    (root / "simple" / "index.html").write_text(f"<html><body>\n{listing}</body></html>\n")


@dataclass
class LocalIndex:
    """A running index: its URL and the paths it has been asked for."""

    url: str
    requests: list[str] = field(default_factory=list)


@contextmanager
def local_index(wheelhouse: Path) -> Iterator[LocalIndex]:
    """Serve the wheelhouse as a simple index on a free 127.0.0.1 port; stop it on exit."""
    with tempfile.TemporaryDirectory(prefix="twk-index-") as tmp:
        root = Path(tmp)
        build_simple_index(wheelhouse, root)
        seen: list[str] = []

        class Handler(SimpleHTTPRequestHandler):
            """Static files from the index root; every requested path is recorded."""

            def log_message(self, format: str, *args: Any) -> None:
                seen.append(self.path)

        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            port = server.server_address[1]
            yield LocalIndex(url=f"http://127.0.0.1:{port}/simple", requests=seen)
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
