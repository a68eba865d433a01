"""Uploaded product pictures: refused by type and size, turned upright, cut to the storefront's
4:3 frame, written in its three widths without the camera's metadata."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from storefront.catalog.pictures import (
    MAX_BYTES,
    WIDTHS,
    PictureError,
    file_name,
    is_stored,
    media_key,
    media_url,
    store_picture,
)


def picture(size: tuple[int, int], kind: str = "JPEG", **save: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(out, kind, **save)
    return out.getvalue()


def test_a_photo_is_written_in_the_three_widths_at_4_to_3(tmp_path: Path):
    path = store_picture(picture((4000, 3000)), tmp_path)
    key = media_key(path)
    assert key is not None and is_stored(path, tmp_path)
    assert [Image.open(tmp_path / file_name(key, width)).size for width in WIDTHS] == [
        (320, 240),
        (640, 480),
        (1280, 960),
    ]
    assert {Image.open(tmp_path / file_name(key, width)).format for width in WIDTHS} == {"WEBP"}
    assert media_url(path, 640) == f"/media/{key}-640.webp"


def test_the_same_upload_twice_is_one_picture(tmp_path: Path):
    data = picture((800, 600), "PNG")
    assert store_picture(data, tmp_path) == store_picture(data, tmp_path)
    assert len(list(tmp_path.iterdir())) == len(WIDTHS)


def test_a_picture_of_another_shape_is_cut_around_its_centre_and_never_enlarged(tmp_path: Path):
    wide = Image.new("RGB", (1000, 600), (0, 0, 255))
    wide.paste((255, 0, 0), (100, 0, 900, 600))  # red in the middle, 100 pixels of blue at both ends
    out = io.BytesIO()
    wide.save(out, "PNG")
    key = media_key(store_picture(out.getvalue(), tmp_path))
    assert key
    largest = Image.open(tmp_path / file_name(key, 1280)).convert("RGB")
    assert largest.size == (800, 600)  # 4:3 from a 1000 × 600 picture, not enlarged to 1280
    red, _green, blue = largest.getpixel((10, 300))
    assert red > 200 and blue < 60  # the blue ends are cut away


def test_a_phone_photo_is_turned_upright_and_loses_its_metadata(tmp_path: Path):
    # Stored lying on its side (red on the left) with "rotate 90° clockwise to show": red on top.
    stored = Image.new("RGB", (1600, 1200), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 800, 1200))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    exif[0x8825] = {2: (47.0, 22.0, 0.0)}  # GPS latitude: where the photo was taken
    out = io.BytesIO()
    stored.save(out, "JPEG", exif=exif)
    key = media_key(store_picture(out.getvalue(), tmp_path))
    assert key
    upright = Image.open(tmp_path / file_name(key, 1280))
    assert upright.size == (1200, 900)
    assert not upright.getexif()
    rgb = upright.convert("RGB")
    top, bottom = rgb.getpixel((600, 10)), rgb.getpixel((600, 890))
    assert top[0] > 200 and bottom[2] > 200


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "Choose a picture"),
        (b"GIF89a" + b"\0" * 100, "not a JPEG, PNG or WebP"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "not a JPEG, PNG or WebP"),
        (picture((2000, 1500))[:3000], "damaged or incomplete"),
        (picture((600, 450), "PNG"), "600 × 450 pixels; it needs at least 640 × 480"),
        (b"\xff" * (MAX_BYTES + 1), "larger than 10 MB"),
    ],
    ids=["empty", "gif", "svg", "truncated", "too-small", "too-large"],
)
def test_what_is_not_a_usable_picture_is_refused_and_nothing_is_stored(tmp_path: Path, data: bytes, message: str):
    with pytest.raises(PictureError) as refused:
        store_picture(data, tmp_path)
    assert message in str(refused.value)
    assert not tmp_path.exists() or not list(tmp_path.iterdir())


def test_a_picture_of_too_many_pixels_is_refused_before_it_is_decoded(tmp_path: Path):
    # 8000 × 6000 = 48 megapixels of one colour: a small file that would take 144 MB to decode.
    with pytest.raises(PictureError) as refused:
        store_picture(picture((8000, 6000), "PNG"), tmp_path)
    assert "more than 40 megapixels" in str(refused.value)
