"""Small HTML builders: one page skeleton with its inline style, tables, images, preformatted text.

Every value is escaped here, so the page modules pass plain strings.
"""
from __future__ import annotations

from html import escape
from typing import Iterable

STYLE = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 70em; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #bbb; padding: 0.2em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr.paper td { color: #555; font-style: italic; }
figure { display: inline-block; margin: 0.2em; text-align: center; font-size: 0.75em; vertical-align: top; }
figure img { display: block; margin: auto; image-rendering: pixelated; }
img.figure { max-width: 100%; }
.gallery { margin-bottom: 0.6em; }
pre { background: #f4f4f4; padding: 0.8em; overflow-x: auto; }
"""


def page(title: str, body: Iterable[str]) -> str:
    """A whole HTML document: ``title`` as its title and first heading, then ``body``'s parts."""
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            f"<h1>{escape(title)}</h1>\n" + "\n".join(body) + "\n</body>\n</html>\n")


def heading(text: str, level: int = 2) -> str:
    return f"<h{level}>{escape(text)}</h{level}>"


def para(text: str) -> str:
    return f"<p>{escape(text)}</p>"


def link(href: str, text: str) -> str:
    return f"<a href=\"{escape(href)}\">{escape(text)}</a>"


def table(header: list[str], rows: Iterable[tuple[list[str], str]]) -> str:
    """A table of ``(cells, css_class)`` rows; cells are text (escaped)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(f"<tr class=\"{cls}\">" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>\n"
                   for cells, cls in rows)
    return f"<table>\n<tr>{head}</tr>\n{body}</table>"


def image(src: str, alt: str) -> str:
    """A figure, as wide as the page at most."""
    return f"<img class=\"figure\" src=\"{escape(src)}\" alt=\"{escape(alt)}\">"


def thumbnail(src: str, caption: str) -> str:
    """A galaxy thumbnail with a caption under it (labels, similarity)."""
    return (f"<figure><img src=\"{escape(src)}\" alt=\"{escape(caption)}\">"
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def preformatted(text: str) -> str:
    return f"<pre>{escape(text)}</pre>"


def number(value: float | None, digits: int = 1) -> str:
    """A table cell: the value rounded, or empty when there is none."""
    return "" if value is None else f"{value:.{digits}f}"
