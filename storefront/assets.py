"""Static assets under content-hashed names, compressed once at start-up and cached for a year.

`asset_url("css/shop.css")` → `/assets/css/shop.3f2a9c1b.css`. A new file content gives a new
name, so browsers may keep every version forever (`immutable`), and a deploy never serves a
stale stylesheet.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from storefront.settings import ROOT

ASSETS_DIR = ROOT / "assets"
ASSETS_PREFIX = "/assets"
_COMPRESSIBLE = {".css", ".js", ".svg", ".txt", ".json"}
_YEAR = 365 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    media_type: str
    etag: str


class AssetManifest:
    def __init__(self, directory: Path = ASSETS_DIR) -> None:
        self.urls: dict[str, str] = {}
        self.files: dict[str, Asset] = {}
        for path in sorted(directory.rglob("*")):
            if not path.is_file() or path.name.startswith(".") or path.suffix in {".md", ".sha256"}:
                continue
            relative = path.relative_to(directory).as_posix()
            body = path.read_bytes()
            digest = hashlib.sha256(body).hexdigest()[:10]
            stem, dot, suffix = relative.rpartition(".")
            versioned = f"{stem}.{digest}.{suffix}" if dot else f"{relative}.{digest}"
            media_type = mimetypes.guess_type(relative)[0] or "application/octet-stream"
            # Litestar names the charset of text/* itself; the others are told here, once.
            if media_type in {"application/javascript", "image/svg+xml"}:
                media_type += "; charset=utf-8"
            gzipped = gzip.compress(body, 9, mtime=0) if path.suffix in _COMPRESSIBLE else None
            self.urls[relative] = f"{ASSETS_PREFIX}/{versioned}"
            self.files[versioned] = Asset(
                body, gzipped if gzipped and len(gzipped) < len(body) else None, media_type, f'"{digest}"'
            )

    def url(self, name: str) -> str:
        try:
            return self.urls[name]
        except KeyError:
            raise LookupError(f"no asset {name!r} under {ASSETS_DIR}") from None


@get(
    f"{ASSETS_PREFIX}/{{file_path:path}}",
    include_in_schema=False,
    opt={"exclude_from_csrf": True},
    sync_to_thread=False,
    name="asset",
)
def serve_asset(request: Request[Any, Any, Any], file_path: FromPath[str]) -> Response[bytes]:
    manifest: AssetManifest = request.app.state.shop.assets
    asset = manifest.files.get(file_path.lstrip("/"))
    if asset is None:
        raise NotFoundException()
    headers = {"Cache-Control": f"public, max-age={_YEAR}, immutable", "ETag": asset.etag, "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(b"", status_code=304, headers=headers)
    body = asset.body
    if asset.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=asset.media_type, headers=headers)
