"""Remote zips read by range requests; member names that would escape are refused."""
from __future__ import annotations

import io
from pathlib import Path
import zipfile

import pytest

from pipeline.download.errors import DownloadError, UnsafePath
from pipeline.download.http import HttpClient
from pipeline.download.images import ArchiveMembers, archive_jobs, run_jobs
from pipeline.download.ranged_zip import RemoteZip
from pipeline.download.safepath import inside, safe_relative
from pipeline.download.validate import ImageSpec
from tests.mirror.drawings import galaxy_image
from tests.mirror.fixtures import http, mirror  # noqa: F401 - pytest fixtures
from tests.mirror.surveys import build_zip

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
