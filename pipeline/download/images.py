"""Image fetching as the survey sources use it: per-object cutouts or remote-archive members.

A source lists, per selected galaxy, either the cutout URL and query or the archive member;
this module turns them into :class:`~pipeline.download.fetch.FetchJob` s (each image checked
against an :class:`~pipeline.download.validate.ImageSpec`) and runs them, writing the manifest and
failing the stage only when more than the params fraction failed.

A file under its final name was complete when it was written, but a disk can fill and a copy can
go wrong later (issue 8): before fetching, every file already there is verified again, cheaply
(size and SHA-256 against the previous manifest) or, when the manifest does not vouch for it, by
the full image check; a file that fails is deleted and fetched again.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import pandas as pd

from pipeline.download.errors import DownloadError, Interrupted, UnsafePath
from pipeline.download.fetch import FetchJob, fetch_all, remove_partials
from pipeline.download.http import HttpClient
from pipeline.download.manifest import (CHECKSUM_COLUMNS, MANIFEST_COLUMNS, Checksum, ExpectedSize,
                                        check_failures, checksum, previous_checksums)
from pipeline.download.ranged_zip import Member, RemoteZip, by_file_name
from pipeline.download.validate import BadContent, ImageSpec

#: Characters an id used as a file name must not hold: folder separators (POSIX, Windows), NUL.
NOT_IN_FILE_NAMES = ("/", "\\", "\x00")


@dataclass(frozen=True)
class Refused:
    """A galaxy whose image cannot even be named (its id is not a plain file name): no request,
    one failed manifest row with ``reason``."""

    id: str
    reason: str
    source: str


Job = FetchJob | Refused


def refusal(galaxy_id: str, source: str) -> Refused | None:
    """A :class:`Refused` when ``galaxy_id`` cannot be a file name in the images folder, else None."""
    if galaxy_id in ("", ".", "..") or any(c in galaxy_id for c in NOT_IN_FILE_NAMES):
        return Refused(galaxy_id, f"id is not a plain file name: {galaxy_id!r}", source)
    return None


def image_job(galaxy_id: str, images_dir: Path, suffix: str, source: str, fetch: Callable[[], bytes]) -> Job:
    """The job writing ``images_dir/<id><suffix>``, or its :class:`Refused` row (see :func:`refusal`)."""
    return refusal(galaxy_id, source) or FetchJob(galaxy_id, images_dir / f"{galaxy_id}{suffix}", source, fetch)


def cutout_jobs(client: HttpClient, url: str, queries: Mapping[str, Mapping[str, Any]], spec: ImageSpec,
                images_dir: Path, suffix: str) -> list[Job]:
    """One job per galaxy id: GET ``url`` with its query, an image as ``spec`` says expected."""
    def job(galaxy_id: str, query: Mapping[str, Any]) -> Job:
        def fetch() -> bytes:
            return client.get(url, params=query, check=spec.check, what=f"cutout of {galaxy_id}").content

        source = url + "?" + "&".join(f"{k}={v}" for k, v in query.items())
        return image_job(galaxy_id, images_dir, suffix, source, fetch)

    return [job(galaxy_id, query) for galaxy_id, query in queries.items()]


def missing_jobs(reasons: Mapping[str, str], images_dir: Path, suffix: str) -> list[Job]:
    """Galaxies that cannot be fetched (no size measurement, no archive entry): each fails with
    its reason in the manifest, unless a complete image is already there."""
    def job(galaxy_id: str, reason: str) -> Job:
        def fetch() -> bytes:
            raise DownloadError(galaxy_id, reason)

        return image_job(galaxy_id, images_dir, suffix, "", fetch)

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
        found = self._directories()
        if name not in found:
            raise DownloadError(name, "not in the archive")
        return found[name]

    def present(self, names: Iterable[str]) -> set[str]:
        """Those of ``names`` that some archive holds (reads the directories, as :meth:`find`)."""
        found = self._directories()
        return {name for name in names if name in found}

    def _directories(self) -> dict[str, tuple[RemoteZip, Member]]:
        with self._lock:
            if self._found is None and self._error is None:
                try:
                    self._found = self._read_directories()
                except (DownloadError, UnsafePath) as exc:
                    self._error = exc
        if self._error is not None:
            raise self._error
        assert self._found is not None
        return self._found

    def _read_directories(self) -> dict[str, tuple[RemoteZip, Member]]:
        found: dict[str, tuple[RemoteZip, Member]] = {}
        for archive in self.archives:
            for key, member in by_file_name(archive.members()).items():
                found.setdefault(key, (archive, member))
        return found


def archive_jobs(archives: ArchiveMembers, members: Mapping[str, str], spec: ImageSpec,
                 images_dir: Path, suffix: str) -> list[Job]:
    """One job per galaxy id: the archive member whose file name is ``members[id]``."""
    def job(galaxy_id: str, name: str) -> Job:
        def fetch() -> bytes:
            archive, member = archives.find(name)
            data = archive.read(member)
            spec.check(data)
            return data

        return image_job(galaxy_id, images_dir, suffix, name, fetch)

    return [job(galaxy_id, name) for galaxy_id, name in members.items()]


def run_jobs(jobs: list[Job], concurrency: int, max_failed_fraction: float, images_dir: Path,
             manifest_path: Path, param: str, desc: str, expected: ExpectedSize | None = None, *,
             spec: ImageSpec) -> pd.DataFrame:
    """Fetch ``jobs`` into ``images_dir``; write and check the manifest (see ``manifest.py``).

    Files already in ``images_dir`` are verified first (:func:`verify_existing`, against ``spec``)
    and fetched again when they fail.  ``param`` is the params key of ``max_failed_fraction``,
    named when the stage fails; ``expected``, where given, lets the failure name the image size
    key instead when the images are mostly of another size.  Interrupted (Ctrl-C), it writes the
    manifest of the files completed so far before passing the interruption on.
    """
    images_dir.mkdir(parents=True, exist_ok=True)
    remove_partials(images_dir)
    fetchable = [job for job in jobs if isinstance(job, FetchJob)]
    known, failed = verify_existing(fetchable, spec, previous_checksums(manifest_path), concurrency)
    if failed:
        first = next(iter(failed))
        print(f"{desc}: {len(failed)} images on disk failed verification and are fetched again "
              f"(e.g. id {first}: {failed[first]})")
    try:
        fetched = fetch_all(fetchable, concurrency, desc)
    except Interrupted as exc:
        full_manifest(exc.manifest, jobs, known, failed).to_csv(manifest_path, index=False)
        raise
    manifest = full_manifest(fetched, jobs, known, failed)
    check_failures(manifest, max_failed_fraction, param, manifest_path, expected)
    return manifest


def verify_existing(jobs: list[FetchJob], spec: ImageSpec, previous: Mapping[str, Checksum],
                    concurrency: int) -> tuple[dict[str, Checksum], dict[str, str]]:
    """Verify the files of ``jobs`` already under their final name, ``concurrency`` at a time.

    A file whose size and SHA-256 are those ``previous`` (the last manifest) lists is kept as it
    is; any other gets the full check of ``spec`` and is deleted when it fails, so that it is
    fetched again.  Returns, by id, the checksums of the files kept and why the deleted ones failed.
    """
    kept: dict[str, Checksum] = {}
    failed: dict[str, str] = {}
    # Threads: hashing and decoding release the GIL, and a first check of thousands of files
    # (no manifest yet) decodes every one.
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="verify") as pool:
        for job, outcome in zip(jobs, pool.map(lambda job: _verify(job, spec, previous.get(job.id)), jobs)):
            if isinstance(outcome, str):
                failed[job.id] = outcome
            elif outcome is not None:
                kept[job.id] = outcome
    return kept, failed


def _verify(job: FetchJob, spec: ImageSpec, listed: Checksum | None) -> Checksum | str | None:
    """The checksum of ``job``'s file when it passes, why it failed (it is then deleted), or None
    when there is no file."""
    try:
        data = job.dest.read_bytes()
    except FileNotFoundError:
        return None
    found = checksum(data)
    if found != listed:
        try:
            spec.check(data)
        except BadContent as exc:
            job.dest.unlink()
            return str(exc)
    return found


def full_manifest(fetched: pd.DataFrame, jobs: list[Job], known: Mapping[str, Checksum],
                  refetched: Mapping[str, str]) -> pd.DataFrame:
    """fetch_all's rows with the size and SHA-256 of each ``ok`` file (from ``known`` or read from
    disk) and a row for each :class:`Refused` job, in the order of ``jobs``; a file fetched again
    because the one on disk failed verification says so in its reason."""
    dest = {job.id: job.dest for job in jobs if isinstance(job, FetchJob)}
    refused = [(job.id, "failed", job.reason, job.source) for job in jobs if isinstance(job, Refused)]
    manifest = fetched
    if refused:  # in the order of the jobs, as fetch_all's rows
        order = {job.id: i for i, job in enumerate(jobs)}
        manifest = pd.concat([fetched, pd.DataFrame(refused, columns=list(MANIFEST_COLUMNS))], ignore_index=True)
        manifest = manifest.sort_values("id", key=lambda ids: ids.map(order), kind="stable", ignore_index=True)
    sums: list[Checksum | tuple[None, None]] = []
    reasons = manifest["reason"].tolist()
    for i, (galaxy_id, status) in enumerate(zip(manifest["id"], manifest["status"])):
        if status != "ok":
            sums.append((None, None))
            continue
        sums.append(known[galaxy_id] if galaxy_id in known else checksum(dest[galaxy_id].read_bytes()))
        if galaxy_id in refetched:
            reasons[i] = f"fetched again: the file on disk failed verification ({refetched[galaxy_id]})"
    out = manifest.assign(reason=reasons)
    out[CHECKSUM_COLUMNS[0]] = pd.array([b for b, _ in sums], dtype="Int64")
    out[CHECKSUM_COLUMNS[1]] = pd.array([h for _, h in sums], dtype="string")
    return out
