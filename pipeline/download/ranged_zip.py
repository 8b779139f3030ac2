"""Members of a remote zip archive, read with HTTP range requests (issue 3).

The published image sets are zips of gigabytes (GZ2 ``images_gz2.zip`` about 3.4 GB, GZ DECaLS
``gz_decals_dr5_png_part{1..4}.zip`` about 100 GB together, DESIGN sect. 2) of which a survey
needs a few thousand files.  We read the end-of-central-directory record from the tail, then the
central directory, then each wanted member's local header and data: a few kilobytes per image
instead of the whole archive.  Zip64 archives (over 4 GiB or 65,535 members) are handled.

The directory is walked by its byte size, as Python's ``zipfile`` does, never by the entry count
of the end record: tools on macOS have written archives of more than 65,535 entries without
Zip64, keeping the count modulo 65,536 (issue 9), and trusting it would hide most members.
AppleDouble files under ``__MACOSX/`` (resource forks macOS adds to the archives it makes) are
metadata, never an image: :func:`by_file_name` leaves them out.

Member names are checked on reading the directory: an archive naming a member outside its own
root (absolute, or climbing with ``..``) is refused whole, since it cannot be trusted.
"""
from __future__ import annotations

import logging
import struct
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath

from pipeline.download.errors import DownloadError
from pipeline.download.http import HttpClient
from pipeline.download.safepath import safe_relative
from pipeline.download.validate import BadContent

EOCD = struct.Struct("<4s4H2LH")  # end of central directory
ZIP64_LOCATOR = struct.Struct("<4sLQL")
ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
CENTRAL = struct.Struct("<4s6H3L5H2L")  # central directory file header
LOCAL = struct.Struct("<4s5H3L2H")  # local file header
EOCD_SIG, ZIP64_LOCATOR_SIG, ZIP64_EOCD_SIG = b"PK\x05\x06", b"PK\x06\x07", b"PK\x06\x06"
CENTRAL_SIG, LOCAL_SIG = b"PK\x01\x02", b"PK\x03\x04"
MAX_COMMENT = 0xFFFF
DIRECTORY_CHUNK = 8 << 20  # the central directory is read in ranges of this many bytes
LOCAL_SLACK = 256  # extra bytes read with a member in case its local extra field is longer
UTF8_FLAG = 0x800
STORED, DEFLATED = 0, 8
MACOS_METADATA = "__MACOSX"  # top folder of the AppleDouble files macOS adds to its zips

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Member:
    name: str
    method: int
    crc: int
    compressed_size: int
    size: int
    header_offset: int


class RemoteZip:
    """A zip at ``url`` read through ``client`` (its retries and rate limit apply to each range)."""

    def __init__(self, url: str, client: HttpClient):
        self.url = url
        self.client = client
        self.length = 0
        self._members: dict[str, Member] | None = None

    def members(self) -> dict[str, Member]:
        """Member name -> :class:`Member`, read once (two to a few range requests)."""
        if self._members is None:
            offset, size, count = self._directory_location()
            directory = b"".join(self._range(start, min(start + DIRECTORY_CHUNK, offset + size) - 1)
                                 for start in range(offset, offset + size, DIRECTORY_CHUNK))
            self._members = self._parse_directory(directory, count)
        return self._members

    def read(self, member: Member) -> bytes:
        """The member's bytes, decompressed and CRC-checked."""
        want = LOCAL.size + len(member.name.encode()) + member.compressed_size + LOCAL_SLACK
        head = self._range(member.header_offset, min(member.header_offset + want, self.length) - 1)
        sig, *_, name_len, extra_len = LOCAL.unpack_from(head)
        if sig != LOCAL_SIG:
            raise BadContent(f"{member.name}: no local header at offset {member.header_offset}")
        start = LOCAL.size + name_len + extra_len
        data = head[start:start + member.compressed_size]
        if len(data) < member.compressed_size:  # a long local extra field: fetch the rest
            rest_from = member.header_offset + start + len(data)
            data += self._range(rest_from, member.header_offset + start + member.compressed_size - 1)
        if member.method == STORED:
            content = data
        elif member.method == DEFLATED:
            inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            try:
                content = inflate.decompress(data) + inflate.flush()
            except zlib.error as exc:
                raise BadContent(f"{member.name}: does not inflate ({exc})") from None
        else:
            raise BadContent(f"{member.name}: compression method {member.method} is not supported")
        if len(content) != member.size or zlib.crc32(content) != member.crc:
            raise BadContent(f"{member.name}: CRC or size mismatch (damaged archive or range)")
        return content

    def _range(self, start: int, end: int) -> bytes:
        """Bytes ``start..end`` (inclusive); a server that ignores ranges is an error."""
        def check(body: bytes) -> None:
            if len(body) != end - start + 1:
                raise BadContent(f"range of {len(body)} bytes, expected {end - start + 1}")

        response = self.client.get(self.url, headers={"Range": f"bytes={start}-{end}"}, check=check,
                                   what=f"{self.url} bytes {start}-{end}")
        if response.status_code != 206:
            raise DownloadError(self.url, f"HTTP {response.status_code} to a range request: the server "
                                          "does not serve byte ranges")
        return response.content

    def _tail(self) -> bytes:
        """The last bytes of the archive, where the directory's location is; notes its length."""
        tail_bytes = EOCD.size + MAX_COMMENT + ZIP64_LOCATOR.size
        response = self.client.get(self.url, headers={"Range": f"bytes=-{tail_bytes}"},
                                   what=f"{self.url} (tail)")
        content_range = response.headers.get("Content-Range", "")
        if response.status_code != 206 or "/" not in content_range:
            raise DownloadError(self.url, f"HTTP {response.status_code} to a range request: the server "
                                          "does not serve byte ranges")
        self.length = int(content_range.rsplit("/", 1)[1])
        return response.content

    def _directory_location(self) -> tuple[int, int, int]:
        """(offset, size, member count) of the central directory, from the (Zip64) EOCD."""
        tail = self._tail()
        at = tail.rfind(EOCD_SIG)
        if at < 0:
            raise DownloadError(self.url, "not a zip archive (no end-of-central-directory record)")
        _, _, _, _, count, size, offset, _ = EOCD.unpack_from(tail, at)
        locator_at = at - ZIP64_LOCATOR.size
        has_locator = locator_at >= 0 and tail[locator_at:locator_at + 4] == ZIP64_LOCATOR_SIG
        if 0xFFFFFFFF not in (size, offset) and (count != 0xFFFF or not has_locator):
            return offset, size, count  # a wrapped count may read 0xFFFF: only a locator means Zip64
        if not has_locator:
            raise DownloadError(self.url, "damaged zip: Zip64 values without a Zip64 locator")
        _, _, zip64_offset, _ = ZIP64_LOCATOR.unpack_from(tail, locator_at)
        record = self._range(zip64_offset, zip64_offset + ZIP64_EOCD.size - 1)
        sig, *_, count, size, offset = ZIP64_EOCD.unpack(record)
        if sig != ZIP64_EOCD_SIG:
            raise DownloadError(self.url, "damaged zip: no Zip64 end-of-central-directory record")
        return offset, size, count

    def _parse_directory(self, directory: bytes, count: int) -> dict[str, Member]:
        """Every entry of ``directory``, walked until its bytes are used up; ``count`` (the end
        record's) is only compared, since a non-Zip64 writer may have wrapped it at 65,536."""
        members: dict[str, Member] = {}
        pos = entries = 0
        while pos < len(directory):
            entries += 1
            if directory[pos:pos + 4] != CENTRAL_SIG or pos + CENTRAL.size > len(directory):
                raise DownloadError(self.url, f"damaged zip: bad central directory entry at byte {pos}")
            (_, _, _, flags, method, _, _, crc, csize, usize, name_len, extra_len, comment_len,
             _, _, _, offset) = CENTRAL.unpack_from(directory, pos)
            pos += CENTRAL.size
            raw_name = directory[pos:pos + name_len]
            name = raw_name.decode("utf-8" if flags & UTF8_FLAG else "cp437")
            extra = directory[pos + name_len:pos + name_len + extra_len]
            usize, csize, offset = _zip64_sizes(extra, usize, csize, offset)
            pos += name_len + extra_len + comment_len
            safe_relative(name, f"{self.url} member")
            if not name.endswith("/"):
                members[name] = Member(name, method, crc, csize, usize, offset)
        if entries != count:
            log.info("%s: the central directory holds %d entries, its end record says %d (a count wrapped "
                     "at 65,536 by a writer without Zip64); all %d are used", self.url, entries, count, entries)
        return members


def _zip64_sizes(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    """Sizes and offset from the Zip64 extra field (id 1), for the values that overflowed."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<2H", extra, pos)
        if tag == 1:
            values = iter(struct.unpack_from(f"<{length // 8}Q", extra, pos + 4))
            usize = next(values) if usize == 0xFFFFFFFF else usize
            csize = next(values) if csize == 0xFFFFFFFF else csize
            offset = next(values) if offset == 0xFFFFFFFF else offset
            break
        pos += 4 + length
    return usize, csize, offset


def by_file_name(members: dict[str, Member]) -> dict[str, Member]:
    """Members keyed by their file name alone (archives differ in their top-level folders).

    A file name that occurs twice is left out: asking for it is then reported as missing
    rather than silently reading one of the two.  AppleDouble files under ``__MACOSX/`` are left
    out: ``__MACOSX/images/._1.jpg`` holds macOS metadata about ``images/1.jpg``, not an image.
    """
    seen: dict[str, Member] = {}
    twice: set[str] = set()
    for member in members.values():
        path = PurePosixPath(member.name)
        if path.parts[0] == MACOS_METADATA:
            continue
        key = path.name
        if key in seen:
            twice.add(key)
        seen[key] = member
    return {k: v for k, v in seen.items() if k not in twice}
