"""Zips as macOS tools have written them (issue 9): over 65,535 entries without Zip64.

Such an archive stores its entry count modulo 65,536 in the end record, and carries AppleDouble
``__MACOSX/<folder>/._<name>`` files next to the real ones.  Python's ``zipfile`` switches to
Zip64 past 65,535 entries by itself, so the bytes are written here directly: stored (or
deflated) members, no data descriptors, no Zip64 records.
"""
from __future__ import annotations

import struct
import zlib
from pathlib import PurePosixPath

LOCAL = struct.Struct("<4s5H3L2H")
CENTRAL = struct.Struct("<4s6H3L5H2L")
EOCD = struct.Struct("<4s4H2LH")
STORED, DEFLATED = 0, 8
ZIP_COUNT_LIMIT = 1 << 16  # the end record's 16-bit entry count


def appledouble(name: str) -> str:
    """The AppleDouble file macOS adds for ``name``: ``images/1.jpg`` -> ``__MACOSX/images/._1.jpg``."""
    path = PurePosixPath(name)
    return str(PurePosixPath("__MACOSX", path.parent, "._" + path.name))


def macos_zip(members: dict[str, bytes], filler: int, method: int = STORED) -> bytes:
    """A non-Zip64 zip of ``filler`` one-byte ``filler/<n>.txt`` entries, then ``members``, each
    with its ``__MACOSX`` AppleDouble file; the end record's count is the true one modulo 65,536
    (``members`` come last, so a reader trusting the count misses them)."""
    entries = [(f"filler/{n}.txt", b"x", STORED) for n in range(filler)]
    for name, data in members.items():
        entries.append((name, data, method))
        entries.append((appledouble(name), b"\x00\x05\x16\x07" + bytes(78), STORED))  # AppleDouble magic
    body, directory = bytearray(), bytearray()
    for name, data, how in entries:
        raw = name.encode()
        stored = data if how == STORED else _deflate(data)
        crc, offset = zlib.crc32(data), len(body)
        body += LOCAL.pack(b"PK\x03\x04", 20, 0, how, 0, 0x21, crc, len(stored), len(data), len(raw), 0)
        body += raw + stored
        directory += CENTRAL.pack(b"PK\x01\x02", 0x0314, 20, 0, how, 0, 0x21, crc, len(stored), len(data),
                                  len(raw), 0, 0, 0, 0, 0o100644 << 16, offset) + raw
    count = len(entries) % ZIP_COUNT_LIMIT
    end = EOCD.pack(b"PK\x05\x06", 0, 0, count, count, len(directory), len(body), 0)
    return bytes(body + directory + end)


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()
