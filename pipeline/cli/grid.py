"""Image grids of a command's result: a PNG contact sheet or a self-contained HTML page.

The HTML page embeds each thumbnail as a data URI, so it opens offline, can be mailed or moved,
and does not depend on where the inputs lie.  An input that cannot be decoded as an image
(a FITS file, a moved file) gets a grey tile that says so rather than failing the command:
the table printed beside the grid is the result, the grid a view of it.
"""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Sequence

from PIL import Image, ImageDraw, UnidentifiedImageError

from pipeline.errors import InputError

#: Thumbnail side in pixels; the tile adds a caption strip below it.
THUMB = 128
CAPTION = 28
COLUMNS = 8
SUFFIXES = (".png", ".html")


class GridError(InputError):
    """A grid that cannot be written (an unknown file type, inputs without image paths)."""


def check_grid_path(path: Path, have_paths: bool, source: Path | None) -> None:
    """Fail before any work if ``--grid path`` cannot be honoured."""
    if path.suffix.lower() not in SUFFIXES:
        raise GridError(f"--grid {path}: the name must end in {' or '.join(SUFFIXES)}")
    if not have_paths:
        raise GridError(f"--grid {path}: {source} holds no image paths (a pipeline embed folder); "
                        f"embed the images with `galaxy-contrastive embed` to draw a grid")


def thumbnail(path: str) -> Image.Image | None:
    """The image at ``path`` as an RGB thumbnail, None when it cannot be decoded."""
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            im.thumbnail((THUMB, THUMB))
            return im
    except (OSError, UnidentifiedImageError, ValueError):
        return None


def _tile(path: str, caption: str) -> Image.Image:
    tile = Image.new("RGB", (THUMB, THUMB + CAPTION), "white")
    thumb = thumbnail(path)
    draw = ImageDraw.Draw(tile)
    if thumb is None:
        draw.rectangle((0, 0, THUMB - 1, THUMB - 1), fill=(128, 128, 128))
        draw.text((4, THUMB // 2 - 6), "no preview", fill="white")
    else:
        tile.paste(thumb, ((THUMB - thumb.width) // 2, (THUMB - thumb.height) // 2))
    for i, line in enumerate(caption.split("\n")[:2]):
        draw.text((2, THUMB + 2 + 12 * i), line[:22], fill="black")
    return tile


def write_grid(out: Path, paths: Sequence[str], captions: Sequence[str], title: str) -> None:
    """Write the images ``paths`` (each with its caption) as a PNG or HTML grid, by ``out``'s suffix."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".png":
        rows = max(1, -(-len(paths) // COLUMNS))
        sheet = Image.new("RGB", (THUMB * min(COLUMNS, max(1, len(paths))), (THUMB + CAPTION) * rows), "white")
        for i, (path, caption) in enumerate(zip(paths, captions)):
            sheet.paste(_tile(path, caption), ((i % COLUMNS) * THUMB, (i // COLUMNS) * (THUMB + CAPTION)))
        sheet.save(out)
        return
    cells = []
    for path, caption in zip(paths, captions):
        thumb = thumbnail(path)
        if thumb is None:
            img = '<div class="missing">no preview</div>'
        else:
            buf = io.BytesIO()
            thumb.save(buf, format="PNG")
            data = base64.b64encode(buf.getvalue()).decode()
            img = f'<img src="data:image/png;base64,{data}" alt="{html.escape(path)}">'
        cells.append(f'<figure>{img}<figcaption>{html.escape(caption).replace(chr(10), "<br>")}'
                     f'<br><small>{html.escape(path)}</small></figcaption></figure>')
    out.write_text(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif}main{display:flex;flex-wrap:wrap;gap:8px}"
        f"figure{{margin:0;width:{THUMB}px;font-size:11px;overflow-wrap:anywhere}}"
        f".missing{{width:{THUMB}px;height:{THUMB}px;background:#888;color:#fff;display:flex;"
        "align-items:center;justify-content:center}"
        f"</style></head><body><h1>{html.escape(title)}</h1><main>\n" + "\n".join(cells) + "\n</main></body></html>\n")
