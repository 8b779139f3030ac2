"""Image content checks: the end of a JPEG or PNG found by walking its structure (issue 8).

A decoder stops at the end marker, so an image followed by other bytes decodes all the same;
``image_end`` must find the real end whatever the encoder wrote (baseline, progressive, restart
markers, an EXIF thumbnail with its own end marker), and the cap counts what follows.
"""
from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image

from pipeline.download.validate import BadContent, ImageSpec, check_trailing, image_end

SIDE = 48
KEY = "survey.x.source.images.fetch.max_trailing_bytes"


def pixels(seed: int = 0, side: int = SIDE) -> Image.Image:
    # Noise: the entropy-coded data then holds many stuffed 0xFF 0x00 pairs.
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8))


def encoded(fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    pixels().save(buffer, format=fmt, **options)
    return buffer.getvalue()


def exif_with_thumbnail(thumbnail: bytes) -> bytes:
    """An EXIF block (TIFF, little-endian) whose IFD1 holds ``thumbnail``, a JPEG with its own EOI."""
    ifd1 = 8 + 6  # IFD0: no entries, then the offset of IFD1
    offset = ifd1 + 2 + 2 * 12 + 4
    tiff = (b"II*\x00" + struct.pack("<I", 8) + struct.pack("<HI", 0, ifd1)
            + struct.pack("<H", 2)
            + struct.pack("<HHII", 0x0201, 4, 1, offset)  # JPEGInterchangeFormat
            + struct.pack("<HHII", 0x0202, 4, 1, len(thumbnail))  # JPEGInterchangeFormatLength
            + struct.pack("<I", 0) + thumbnail)
    return b"Exif\x00\x00" + tiff


def thumbnail_jpeg() -> bytes:
    buffer = io.BytesIO()
    pixels(1, 8).save(buffer, format="JPEG")
    return buffer.getvalue()


IMAGES = {
    "baseline JPEG": lambda: encoded("JPEG", quality=90),
    "progressive JPEG": lambda: encoded("JPEG", progressive=True),
    "JPEG with restart markers": lambda: encoded("JPEG", progressive=True, restart_marker_blocks=2),
    "JPEG with an EXIF thumbnail": lambda: encoded("JPEG", exif=exif_with_thumbnail(thumbnail_jpeg())),
    # Any marker may be preceded by 0xFF fill bytes (T.81 B.1.1.2); here the first scan's.
    "JPEG with fill bytes": lambda: encoded("JPEG").replace(b"\xff\xda", b"\xff\xff\xff\xda", 1),
    "PNG": lambda: encoded("PNG"),
}


@pytest.mark.parametrize("kind", IMAGES)
@pytest.mark.parametrize("extra", [b"", b"\x00", b"\xff\xd9", b"x" * 4812])
def test_the_end_is_found_and_what_follows_is_counted(kind, extra):
    image = IMAGES[kind]()
    assert image_end(image + extra) == len(image)
    with Image.open(io.BytesIO(image + extra)) as decoded:  # the decoder does not see the extra bytes
        decoded.load()
    if extra:
        with pytest.raises(BadContent, match=rf"^{len(extra)} bytes after the image's end marker "
                                             rf"\(at most {len(extra) - 1} allowed by {KEY}\)$"):
            check_trailing(image + extra, len(extra) - 1, KEY)
    check_trailing(image + extra, len(extra), KEY)


def test_the_exif_thumbnail_has_its_own_end_marker_before_the_image_ends():
    """The case a search for the first EOI gets wrong: the walk must skip APP1 whole."""
    thumbnail = thumbnail_jpeg()
    image = IMAGES["JPEG with an EXIF thumbnail"]()
    # The thumbnail, EOI included, lies in APP1, before the frame header of the image itself.
    assert thumbnail.endswith(b"\xff\xd9") and image.index(thumbnail) < image.index(b"\xff\xc0")
    with Image.open(io.BytesIO(image)) as decoded:
        assert decoded.info["exif"].endswith(thumbnail)
    assert image_end(image + b"tail") == len(image)


def test_a_second_image_appended_is_counted_in_full():
    first, second = IMAGES["baseline JPEG"](), IMAGES["progressive JPEG"]()
    with pytest.raises(BadContent, match=rf"^{len(second)} bytes after"):
        check_trailing(first + second, 64, KEY)


@pytest.mark.parametrize("kind", IMAGES)
def test_an_image_cut_short_has_no_end(kind):
    image = IMAGES[kind]()
    for cut in (len(image) - 1, len(image) - 2, len(image) // 2, 40):
        assert image_end(image[:cut]) is None
    with pytest.raises(BadContent, match="no end marker"):
        check_trailing(image[:-1], 64, KEY)


@pytest.mark.parametrize("kind", ["baseline JPEG", "PNG"])
def test_the_spec_checks_decoding_size_and_trailing_bytes(kind):
    image = IMAGES[kind]()
    ImageSpec(SIDE, 0, KEY).check(image)
    with pytest.raises(BadContent, match=f"size {SIDE}x{SIDE}, expected 64x64"):
        ImageSpec(64, 0, KEY).check(image)
    with pytest.raises(BadContent, match=rf"^1 bytes after the image's end marker \(at most 0 allowed by {KEY}\)$"):
        ImageSpec(SIDE, 0, KEY).check(image + b"\n")
    with pytest.raises(BadContent, match="does not decode"):
        ImageSpec(SIDE, 0, KEY).check(image[:len(image) // 2])
