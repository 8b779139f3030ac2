"""Content checks: what a server sent is what we asked for (DESIGN sect. 2, failure modes).

Survey servers answer errors with HTML pages, sometimes with status 200 (SkyServer, proxies,
maintenance pages); cutouts can arrive truncated.  An image counts only once it decodes fully
at the expected size.
"""
from __future__ import annotations

import io
import re

from PIL import Image

#: Image formats the pipeline reads (PIL's names).
IMAGE_FORMATS = ("JPEG", "PNG")
#: The start of the reason ``check_image`` gives for an image of the wrong size (its message
#: below), so the manifest's reasons can tell a configured size that does not fit the images.
WRONG_SIZE = re.compile(r"size (\d+)x(\d+), expected \d+x\d+")


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


def found_size(reason: str) -> tuple[int, int] | None:
    """The (width, height) found by a failed size check, from its reason; None for other reasons.

    A reason may carry more after the check's message (e.g. the retries it took).
    """
    match = WRONG_SIZE.match(reason)
    return (int(match[1]), int(match[2])) if match else None
