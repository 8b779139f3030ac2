"""Image fetching as the survey sources use it: per-object cutouts or remote-archive members.

A source lists, per selected galaxy, either the cutout URL and query or the archive member;
this module turns them into :class:`~pipeline.download.fetch.FetchJob` s (each image checked to
decode at the expected size) and runs them, writing the manifest and failing the stage only when
more than the params fraction failed.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd

from pipeline.download.errors import DownloadError, UnsafePath
from pipeline.download.fetch import FetchJob, fetch_all, remove_partials
from pipeline.download.http import HttpClient
from pipeline.download.manifest import ExpectedSize, check_failures
from pipeline.download.ranged_zip import Member, RemoteZip, by_file_name
from pipeline.download.safepath import inside
from pipeline.download.validate import check_image


def image_path(images_dir: Path, galaxy_id: str, suffix: str) -> Path:
    """``images_dir/<id><suffix>``; an id that is not a plain file name is refused."""
    return inside(images_dir, f"{galaxy_id}{suffix}", "galaxy id used as a file name")


def cutout_jobs(client: HttpClient, url: str, queries: Mapping[str, Mapping[str, Any]], size: int,
                images_dir: Path, suffix: str) -> list[FetchJob]:
    """One job per galaxy id: GET ``url`` with its query, a ``size`` x ``size`` image expected."""
    def job(galaxy_id: str, query: Mapping[str, Any]) -> FetchJob:
        def fetch() -> bytes:
            return client.get(url, params=query, check=lambda body: check_image(body, size),
                              what=f"cutout of {galaxy_id}").content

        source = url + "?" + "&".join(f"{k}={v}" for k, v in query.items())
        return FetchJob(galaxy_id, image_path(images_dir, galaxy_id, suffix), source, fetch)

    return [job(galaxy_id, query) for galaxy_id, query in queries.items()]


def missing_jobs(reasons: Mapping[str, str], images_dir: Path, suffix: str) -> list[FetchJob]:
    """Galaxies that cannot be fetched (no size measurement, no archive entry): each fails with
    its reason in the manifest, unless a complete image is already there."""
    def job(galaxy_id: str, reason: str) -> FetchJob:
        def fetch() -> bytes:
            raise DownloadError(galaxy_id, reason)

        return FetchJob(galaxy_id, image_path(images_dir, galaxy_id, suffix), "", fetch)

    return [job(galaxy_id, reason) for galaxy_id, reason in reasons.items()]


class ArchiveMembers:
    """Members of one or more remote zips by file name, the directories read on first use.

    The member may lie in any of the archives (GZ DECaLS is split over four zips) and under any
    folder.  Nothing is requested when every image is already complete.
    """

    def __init__(self, archives: Iterable[RemoteZip]):
        self.archives = list(archives)
        self._found: dict[str, tuple[RemoteZip, Member]] | None = None
        self._error: Exception | None = None  # an unreadable directory fails every member once
        self._lock = threading.Lock()

    def find(self, name: str) -> tuple[RemoteZip, Member]:
        with self._lock:
            if self._found is None and self._error is None:
                try:
                    self._found = self._read_directories()
                except (DownloadError, UnsafePath) as exc:
                    self._error = exc
        if self._error is not None:
            raise self._error
        assert self._found is not None
        if name not in self._found:
            raise DownloadError(name, "not in the archive")
        return self._found[name]

    def _read_directories(self) -> dict[str, tuple[RemoteZip, Member]]:
        found: dict[str, tuple[RemoteZip, Member]] = {}
        for archive in self.archives:
            for key, member in by_file_name(archive.members()).items():
                found.setdefault(key, (archive, member))
        return found


def archive_jobs(archives: ArchiveMembers, members: Mapping[str, str], size: int,
                 images_dir: Path, suffix: str) -> list[FetchJob]:
    """One job per galaxy id: the archive member whose file name is ``members[id]``."""
    def job(galaxy_id: str, name: str) -> FetchJob:
        def fetch() -> bytes:
            archive, member = archives.find(name)
            data = archive.read(member)
            check_image(data, size)
            return data

        return FetchJob(galaxy_id, image_path(images_dir, galaxy_id, suffix), name, fetch)

    return [job(galaxy_id, name) for galaxy_id, name in members.items()]


def run_jobs(jobs: list[FetchJob], concurrency: int, max_failed_fraction: float, images_dir: Path,
             manifest_path: Path, param: str, desc: str,
             expected: ExpectedSize | None = None) -> pd.DataFrame:
    """Fetch ``jobs`` into ``images_dir``; write and check the manifest (see ``manifest.py``).

    ``param`` is the params key of ``max_failed_fraction``, named when the stage fails;
    ``expected``, where given, lets the failure name the image size key instead when the
    images are mostly of another size.
    """
    images_dir.mkdir(parents=True, exist_ok=True)
    remove_partials(images_dir)
    manifest = fetch_all(jobs, concurrency, desc)
    check_failures(manifest, max_failed_fraction, param, manifest_path, expected)
    return manifest
