"""Remote zips read by range requests; member names that would escape are refused."""
from __future__ import annotations

import io
import logging
from pathlib import Path
import struct
import zipfile

import pytest

from pipeline.download.errors import DownloadError, UnsafePath
from pipeline.download.http import HttpClient
from pipeline.download.images import ArchiveMembers, archive_jobs, run_jobs
from pipeline.download import ranged_zip
from pipeline.download.ranged_zip import RemoteZip, by_file_name
from pipeline.download.safepath import inside, safe_relative
from pipeline.download.validate import ImageSpec
from tests.mirror.drawings import galaxy_image
from tests.mirror.fixtures import http, mirror  # noqa: F401 - pytest fixtures
from tests.mirror import zips
from tests.mirror.surveys import MACOS_FILLER, build_zip
from tests.mirror.zips import macos_zip

SIZE = 40


def members(n: int) -> dict[str, bytes]:
    return {f"images/J{i:03d}/{i}.jpg": galaxy_image("spiral", SIZE, i) for i in range(n)}


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_members_read_by_range_equal_the_archived_files(mirror, http, compression):  # noqa: F811
    files = members(5)
    mirror.serve_bytes("/a.zip", build_zip(files, compression))
    archive = RemoteZip(mirror.url + "/a.zip", HttpClient(http))
    assert sorted(archive.members()) == sorted(files)
    for name, data in files.items():
        assert archive.read(archive.members()[name]) == data
    ranges = [r.headers["range"] for r in mirror.requests("/a.zip")]
    assert ranges[0].startswith("bytes=-") and len(ranges) == 2 + len(files)  # tail, directory, members


def test_zip64_archives(mirror, http, monkeypatch):  # noqa: F811
    """Zip64 records (archives over 4 GiB or 65,535 members, as the DECaLS zips) are followed."""
    files = members(4)
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 2)  # write the Zip64 end records for 4 members
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 100)  # and Zip64 sizes and offsets in the directory
    body = build_zip(files, zipfile.ZIP_DEFLATED)
    monkeypatch.undo()
    first = next(iter(files))
    assert b"PK\x06\x06" in body and zipfile.ZipFile(io.BytesIO(body)).read(first) == files[first]
    mirror.serve_bytes("/big.zip", body)
    archive = RemoteZip(mirror.url + "/big.zip", HttpClient(http))
    assert {name: archive.read(m) for name, m in archive.members().items()} == files


def test_a_server_without_ranges_is_an_error(mirror, http):  # noqa: F811
    mirror.serve_bytes("/a.zip", build_zip(members(1), zipfile.ZIP_STORED), ranges=False)
    with pytest.raises(DownloadError, match="does not serve byte ranges"):
        RemoteZip(mirror.url + "/a.zip", HttpClient(http)).members()


def test_a_damaged_range_is_retried(mirror, http):  # noqa: F811
    files = members(2)
    mirror.serve_bytes("/a.zip", build_zip(files, zipfile.ZIP_DEFLATED))
    archive = RemoteZip(mirror.url + "/a.zip", HttpClient(http))
    entries = archive.members()
    mirror.inject("/a.zip", "truncated", "503_html")
    assert archive.read(entries[next(iter(files))]) == files[next(iter(files))]


@pytest.mark.parametrize("name", ["../evil.jpg", "images/../../evil.jpg", "/etc/evil.jpg",
                                  "C:\\evil.jpg", "..\\evil.jpg"])
def test_member_names_escaping_the_folder_are_refused(mirror, http, tmp_path, name):  # noqa: F811
    """The archive is refused before any member is read, and nothing lands outside the folder."""
    mirror.serve_bytes("/evil.zip", build_zip({"images/1.jpg": galaxy_image("round", SIZE, 1),
                                               name: galaxy_image("round", SIZE, 2)}, zipfile.ZIP_STORED))
    archives = ArchiveMembers([RemoteZip(mirror.url + "/evil.zip", HttpClient(http))])
    images = tmp_path / "out" / "images"
    spec = ImageSpec(SIZE, 0, "x")
    jobs = archive_jobs(archives, {"1": "1.jpg"}, spec, images, ".jpg")
    with pytest.raises(UnsafePath, match="refus"):
        run_jobs(jobs, 2, 0.5, images, tmp_path / "out" / "manifest.csv", "x", "test", spec=spec)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == []


def test_safe_relative_paths():
    assert str(safe_relative("a/./b/../c.jpg", "t")) == "a/b/../c.jpg"
    for bad in ("", "../x", "a/../../x", "/x", "\\\\server\\share\\x", "D:x", "a\x00b"):
        with pytest.raises(UnsafePath):
            safe_relative(bad, "t")
    with pytest.raises(UnsafePath, match="galaxy id"):
        inside(Path("/tmp"), "../../etc/passwd", "galaxy id")


def requested_bytes(mirror, path: str, length: int) -> int:  # noqa: F811
    """Bytes the client asked ``path`` for, from the Range headers the mirror logged."""
    total = 0
    for request in mirror.requests(path):
        start, end = request.headers["range"].removeprefix("bytes=").split("-")
        total += min(int(end), length) if start == "" else int(end) - int(start) + 1
    return total


def test_a_macos_zip_with_a_wrapped_count_is_read_by_its_directory_size(mirror, http, caplog):  # noqa: F811
    """Over 65,535 entries, no Zip64, the count kept modulo 65,536 (issue 9): every member is
    found, as Python's zipfile finds them, and only the tail, directory and members asked for are read."""
    files = members(3)
    body = macos_zip(files, MACOS_FILLER, zips.DEFLATED)
    listing = zipfile.ZipFile(io.BytesIO(body))
    entries = len(listing.infolist())
    assert b"PK\x06\x06" not in body and entries > 0xFFFF
    assert struct.unpack_from("<H", body, len(body) - 12)[0] == entries % 0x10000  # the wrapped count
    mirror.serve_bytes("/mac.zip", body)
    archive = RemoteZip(mirror.url + "/mac.zip", HttpClient(http))
    with caplog.at_level(logging.INFO, logger="pipeline.download.ranged_zip"):
        found = archive.members()
    assert sorted(found) == sorted(listing.namelist())
    assert f"holds {entries} entries, its end record says {entries % 0x10000}" in caplog.text
    assert {name: archive.read(found[name]) for name in files} == files
    directory = len(body) - ranged_zip.EOCD.size - listing.start_dir
    asked = sum(ranged_zip.LOCAL.size + len(name) + found[name].compressed_size + ranged_zip.LOCAL_SLACK
                for name in files)
    tail = ranged_zip.EOCD.size + ranged_zip.MAX_COMMENT + ranged_zip.ZIP64_LOCATOR.size
    assert requested_bytes(mirror, "/mac.zip", len(body)) <= tail + directory + asked


def test_macos_appledouble_files_are_never_taken_as_the_image(mirror, http):  # noqa: F811
    image = galaxy_image("round", SIZE, 1)
    mirror.serve_bytes("/mac.zip", macos_zip({"images/1.jpg": image}, 0))
    remote = RemoteZip(mirror.url + "/mac.zip", HttpClient(http))
    assert sorted(remote.members()) == ["__MACOSX/images/._1.jpg", "images/1.jpg"]
    assert list(by_file_name(remote.members())) == ["1.jpg"]
    archive, member = ArchiveMembers([remote]).find("1.jpg")
    assert archive.read(member) == image


def test_a_count_wrapped_to_0xffff_is_not_taken_for_zip64(mirror, http):  # noqa: F811
    """Without a Zip64 locator, an end record counting 0xFFFF entries is a wrapped count."""
    files = members(1)
    body = macos_zip(files, 0x1FFFF - 2 * len(files))  # each member has its AppleDouble file
    assert struct.unpack_from("<H", body, len(body) - 12)[0] == 0xFFFF and b"PK\x06\x07" not in body
    mirror.serve_bytes("/mac.zip", body)
    archive = RemoteZip(mirror.url + "/mac.zip", HttpClient(http))
    assert len(archive.members()) == 0x1FFFF
    assert {name: archive.read(archive.members()[name]) for name in files} == files
