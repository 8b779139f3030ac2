"""Content checks: what a server sent is what we asked for (DESIGN sect. 2, failure modes).

Survey servers answer errors with HTML pages, sometimes with status 200 (SkyServer, proxies,
maintenance pages); cutouts can arrive truncated.  An image counts only once it decodes fully
at the expected size and nothing much follows its end marker: a decoder stops at the JPEG's EOI
or the PNG's IEND, so an image with megabytes of other bytes after it decodes all the same
(issue 8), and only walking the file's structure to its end shows them.
"""
from __future__ import annotations

import io
import re
import struct
from dataclasses import dataclass

from PIL import Image

#: Image formats the pipeline reads (PIL's names).
IMAGE_FORMATS = ("JPEG", "PNG")
#: The start of the reason ``check_image`` gives for an image of the wrong size (its message
#: below), so the manifest's reasons can tell a configured size that does not fit the images.
WRONG_SIZE = re.compile(r"size (\d+)x(\d+), expected \d+x\d+")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8"
#: JPEG markers that stand alone (no length field): TEM, RST0-7, SOI, EOI.
_JPEG_BARE = {0x01, *range(0xD0, 0xD8), 0xD8, 0xD9}
_JPEG_EOI, _JPEG_SOS = 0xD9, 0xDA


class BadContent(ValueError):
    """A response body that is not what was asked for; the message says what it is instead."""


def looks_like_html(body: bytes | str) -> bool:
    """An HTML (or XML) page: no CSV, JPEG or PNG starts with ``<``."""
    head = body[:512]
    if isinstance(head, str):
        head = head.encode("utf-8", "replace")
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


def check_image(data: bytes, size: int | None, formats: tuple[str, ...] = IMAGE_FORMATS) -> None:
    """Raise :class:`BadContent` unless ``data`` decodes fully as a ``size`` x ``size`` image.

    ``size`` None accepts any size (a user's own images; the prepare stage checks it).
    """
    if looks_like_html(data):
        raise BadContent("an HTML page instead of an image")
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()  # a full decode: a truncated JPEG fails here, not in the prepare stage
            found, width, height = img.format, img.width, img.height
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise BadContent(f"does not decode as an image ({exc})") from None
    if found not in formats:
        raise BadContent(f"a {found} image, expected {' or '.join(formats)}")
    if size is not None and (width, height) != (size, size):
        raise BadContent(f"size {width}x{height}, expected {size}x{size}")


@dataclass(frozen=True)
class ImageSpec:
    """What a complete image file is: a JPEG or PNG of ``size`` x ``size`` (None: any size) with at
    most ``max_trailing_bytes`` after its end marker; ``key`` is the params key of that cap."""

    size: int | None
    max_trailing_bytes: int
    key: str  # e.g. "survey.gz2.source.images.fetch.max_trailing_bytes"

    def check(self, data: bytes) -> None:
        """Raise :class:`BadContent` unless ``data`` is such an image."""
        check_image(data, self.size)
        check_trailing(data, self.max_trailing_bytes, self.key)


def check_trailing(data: bytes, max_bytes: int, key: str) -> None:
    """Raise :class:`BadContent` when more than ``max_bytes`` follow the image's end marker."""
    end = image_end(data)
    if end is None:
        raise BadContent("no end marker: the image is cut short")
    extra = len(data) - end
    if extra > max_bytes:
        raise BadContent(f"{extra} bytes after the image's end marker (at most {max_bytes} allowed by {key})")


def image_end(data: bytes) -> int | None:
    """The offset just past the end marker of the JPEG or PNG in ``data``; None when it has none."""
    if data.startswith(PNG_SIGNATURE):
        return _png_end(data)
    if data.startswith(JPEG_SOI):
        return _jpeg_end(data)
    return None


def _png_end(data: bytes) -> int | None:
    """Walk the chunks (length, type, data, CRC) to the end of IEND."""
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        pos += 12 + length
        if kind == b"IEND":
            return pos if pos <= len(data) else None
    return None


def _jpeg_end(data: bytes) -> int | None:
    """Walk the segments to the end of EOI.

    Segments with a length (APPn, such as an EXIF thumbnail with its own EOI, tables, frame and
    scan headers) are skipped whole; after each scan header (SOS; a progressive JPEG has several)
    the entropy-coded data runs to the next marker: an 0xFF not followed by 0x00 (a stuffed
    0xFF) or by a restart marker.
    """
    pos, n = len(JPEG_SOI), len(data)
    while pos < n:
        if data[pos] != 0xFF:
            return None  # not a marker where one must be: a damaged file
        while pos < n and data[pos] == 0xFF:  # fill bytes may pad any marker
            pos += 1
        if pos >= n:
            return None
        marker = data[pos]
        pos += 1
        if marker == _JPEG_EOI:
            return pos
        if marker in _JPEG_BARE:
            continue
        if pos + 2 > n:
            return None
        pos += struct.unpack_from(">H", data, pos)[0]
        if marker == _JPEG_SOS:
            pos = _scan_end(data, pos)
    return None


def _scan_end(data: bytes, pos: int) -> int:
    """The offset of the marker that ends the entropy-coded data starting at ``pos``."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            return len(data)
        follower = data[pos + 1]
        if follower == 0x00 or 0xD0 <= follower <= 0xD7:
            pos += 2
        elif follower == 0xFF:
            pos += 1  # fill bytes before the marker
        else:
            return pos


def found_size(reason: str) -> tuple[int, int] | None:
    """The (width, height) found by a failed size check, from its reason; None for other reasons.

    A reason may carry more after the check's message (e.g. the retries it took).
    """
    match = WRONG_SIZE.match(reason)
    return (int(match[1]), int(match[2])) if match else None
