"""Keep file names that come from remote data or user input inside their folder.

Archive member names, ids used as file names and id patterns are relative paths; one that is
absolute, has a drive, or climbs out with ``..`` would let a malicious archive or catalogue
write (or read) anywhere: it is refused.
"""
from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath

from pipeline.download.errors import UnsafePath


def safe_relative(name: str, what: str) -> PurePosixPath:
    """``name`` as a relative path that stays below its folder, or :class:`UnsafePath`."""
    windows = PureWindowsPath(name)
    posix = PurePosixPath(name.replace("\\", "/"))
    if not name or "\x00" in name:
        raise UnsafePath(f"{what}: {name!r} is not a usable file name")
    if posix.is_absolute() or windows.drive or windows.root:
        raise UnsafePath(f"{what}: {name!r} is an absolute path; refusing to leave the target folder")
    depth = 0
    for part in posix.parts:
        depth += -1 if part == ".." else 0 if part == "." else 1
        if depth < 0:
            raise UnsafePath(f"{what}: {name!r} climbs out of the target folder with '..'; refused")
    return posix


def inside(root: Path, name: str, what: str) -> Path:
    """``root / name`` after checking that ``name`` cannot escape ``root``."""
    return root / safe_relative(name, what)
