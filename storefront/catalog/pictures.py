"""Product pictures uploaded in the back office.

A picture is checked (JPEG, PNG or WebP; at most 10 MB and 40 megapixels; at least 640 × 480),
turned upright as the camera meant it, cut to the storefront's 4:3 frame around its centre, and
written as WebP in the widths the pages use: 320 (a catalogue card), 640 (the product page) and
1280 (the product page on a sharp screen). Nothing of the camera's metadata is kept, so a phone
photo does not publish where it was taken. The files are named by the upload's content, under the
media folder (`STOREFRONT_MEDIA_DIR`), and served under `/media/` with a year's cache: a changed
picture is a new name.

A product image's `path` is either a file under `assets/` (the demo catalogue's drawings) or
`media/<key>` for an uploaded picture.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from storefront.i18n import N_, ExplainedError

MEDIA_PREFIX = "media/"
WIDTHS = (320, 640, 1280)
ASPECT = (4, 3)
MIN_SIZE = (640, 480)
MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
ACCEPTED = ("JPEG", "PNG", "WEBP")
_KEY = re.compile(r"[0-9a-f]{20}")
_QUALITY = 82


class PictureError(ExplainedError):
    """The upload is not a picture the shop can use; nothing was stored."""


def is_media(path: str) -> bool:
    return path.startswith(MEDIA_PREFIX)


def media_key(path: str) -> str | None:
    """The key of an uploaded picture's path (`media/<key>`), or None for anything else."""
    if not is_media(path):
        return None
    key = path.removeprefix(MEDIA_PREFIX)
    return key if _KEY.fullmatch(key) else None


def file_name(key: str, width: int) -> str:
    return f"{key}-{width}.webp"


def media_url(path: str, width: int) -> str:
    """The address of an uploaded picture in one of the storefront's widths."""
    key = media_key(path)
    if key is None or width not in WIDTHS:
        raise LookupError(f"no uploaded picture {path!r} in width {width}")
    return f"/media/{file_name(key, width)}"


def is_stored(path: str, media_dir: Path) -> bool:
    key = media_key(path)
    return key is not None and all((media_dir / file_name(key, width)).is_file() for width in WIDTHS)


def store_picture(data: bytes, media_dir: Path) -> str:
    """Check, cut and resize an uploaded picture; its path (`media/<key>`). The same upload twice
    gives the same path and writes nothing the second time. Blocking: run it in a thread."""
    if not data:
        raise PictureError(N_("Choose a picture to upload."))
    if len(data) > MAX_BYTES:
        raise PictureError(N_("The picture is larger than 10 MB. Save it smaller and upload it again."))
    key = hashlib.sha256(data).hexdigest()[:20]
    path = MEDIA_PREFIX + key
    if is_stored(path, media_dir):
        return path
    image = _open(data)
    media_dir.mkdir(parents=True, exist_ok=True)
    widest = min(image.width, image.height * ASPECT[0] // ASPECT[1])  # of the 4:3 frame within the picture
    for width in WIDTHS:
        shown = min(width, widest)  # never enlarged: the widest file is as sharp as the upload allows
        frame = (shown, shown * ASPECT[1] // ASPECT[0])
        resized = ImageOps.fit(image, frame, Image.Resampling.LANCZOS)
        out = io.BytesIO()
        resized.save(out, "WEBP", quality=_QUALITY, method=4, icc_profile=image.info.get("icc_profile"))
        _write_atomically(media_dir / file_name(key, width), out.getvalue())
    return path


def _open(data: bytes) -> Image.Image:
    image: Image.Image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ACCEPTED)
            if image.width * image.height > MAX_PIXELS:
                raise PictureError(N_("The picture has more than 40 megapixels. Save it smaller and upload it again."))
            if image.format == "JPEG":
                image.draft("RGB", (WIDTHS[-1], WIDTHS[-1]))  # decode at the smallest scale still wide enough
            image.load()
    except PictureError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PictureError(N_("The file is not a JPEG, PNG or WebP picture.")) from None
    except (OSError, SyntaxError, ValueError):
        raise PictureError(N_("The picture file is damaged or incomplete.")) from None
    image = ImageOps.exif_transpose(image)
    if image.width < MIN_SIZE[0] or image.height < MIN_SIZE[1]:
        raise PictureError(
            N_("The picture is %(width)s × %(height)s pixels; it needs at least 640 × 480 to look sharp."),
            width=image.width,
            height=image.height,
        )
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
    return image


def _write_atomically(target: Path, body: bytes) -> None:
    """A reader sees the whole file or none: written beside it, then renamed over it."""
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(body)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
