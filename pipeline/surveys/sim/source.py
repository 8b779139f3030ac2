"""``SimSource``: a simulated survey behind the same interface as the real ones (``base.Source``).

``fetch_catalogue`` draws the population, its identifiers and the simulated volunteers' votes
and writes the vote table in the real catalogue's schema (plus a private truth table);
``fetch_images`` renders the selected galaxies with GalSim in a process pool, and writes the
bands of the first ``fits_examples`` of them as FITS too (``fits.py``).  An image depends
only on (seed, survey name, galaxy id), so it is the same whatever else is rendered and however
the pool schedules the work (DESIGN.md sect. 3).
"""
from __future__ import annotations

import os
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Iterator, Mapping, NamedTuple

import pandas as pd

from pipeline.config import parse
from pipeline.progress import progress
from pipeline.surveys.base import CATALOGUE_FILE, IMAGES_DIR
from pipeline.surveys.sim.config import PopulationCfg, SimSourceCfg
from pipeline.surveys.sim.identifiers import ID_COLUMN, identifiers
from pipeline.surveys.sim.population import draw_population
from pipeline.surveys.sim.fits import FITS_DIR, FITS_SUFFIX, cutout_bands, fits_bytes
from pipeline.surveys.sim.render import compose_image, render_bands
from pipeline.surveys.sim.rgb import FILE_SUFFIX, encode
from pipeline.surveys.sim.seeding import keyed_rng
from pipeline.surveys.sim.votes import vote_table

TRUTH_FILE = "truth.parquet"  # private: the physical parameters behind each catalogue row
#: Source settings that change no image: how fast they are rendered, which galaxies the votes
#: select (an id's image does not depend on its votes), and how many also get a FITS file
#: (``fetch_images`` adds and removes those itself).
NOT_IN_IMAGES = ("n_workers", "votes", "fits_examples")
TEMP_MARKER = ".partial-"  # in-progress image files: "<id><suffix>.partial-<pid>"
POOL_CHUNK = 4  # galaxies per task sent to a worker: small, so the progress bar moves


class SimSource:
    """A simulated survey (``survey.<name>.source`` with ``kind: sim``)."""

    def __init__(self, name: str, source_cfg: Mapping[str, Any], seed: int,
                 population: Mapping[str, Any] | None = None):
        """``population`` is params.yaml's top-level ``sim_population`` (shared by every simulated
        survey); without it, ``source_cfg`` must hold a ``population`` block itself."""
        self.name = name
        self.seed = seed
        if population is not None:
            parse(PopulationCfg, population, "sim_population")  # errors name the top-level key
            source_cfg = {**source_cfg, "population": population}
        self.cfg: SimSourceCfg = parse(SimSourceCfg, source_cfg, f"survey.{name}.source")
        self.id_column = ID_COLUMN[self.cfg.schema]
        self.image_suffix = FILE_SUFFIX[self.cfg.image.format]
        self._identity = {k: v for k, v in source_cfg.items() if k not in NOT_IN_IMAGES}

    def image_identity(self) -> dict[str, Any]:
        """What the images depend on: (seed, survey name) and every setting but NOT_IN_IMAGES."""
        return {"kind": "sim", "name": self.name, "seed": self.seed, "source": self._identity}

    def fetch_catalogue(self, out_dir: Path) -> pd.DataFrame:
        """Write ``catalogue.parquet`` (vote table) and ``truth.parquet``; return the catalogue."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        truth = draw_population(self.cfg, keyed_rng(self.seed, self.name, "population"))
        ids = identifiers(self.cfg.schema, self.cfg.sky, len(truth), keyed_rng(self.seed, self.name, "ids"))
        catalogue = vote_table(self.cfg, ids, truth, keyed_rng(self.seed, self.name, "votes"))
        truth.insert(0, "id", ids[self.id_column].astype(str).to_numpy())
        _write_parquet(truth, out_dir / TRUTH_FILE)
        _write_parquet(catalogue, out_dir / CATALOGUE_FILE)
        return catalogue

    def fetch_images(self, selected: pd.DataFrame, catalogue_dir: Path, out_dir: Path) -> pd.DataFrame:
        """Render ``selected`` galaxies to ``out_dir/images/<id><suffix>``, and the first
        ``fits_examples`` of them (ids sorted as strings) to ``out_dir/fits/<id>.fits``; return the
        manifest of the images.

        Files already there are complete (they are renamed into place) and are kept; leftovers
        of an interrupted run, and FITS files of galaxies no longer among the first, are removed.
        A galaxy whose image exists but whose FITS file is wanted is drawn again: its draws are
        keyed on its id, so the bands are those its image was made from.
        """
        images, fits_dir = Path(out_dir) / IMAGES_DIR, Path(out_dir) / FITS_DIR
        for folder in (images, fits_dir):
            folder.mkdir(parents=True, exist_ok=True)
            for leftover in folder.glob(f"*{TEMP_MARKER}*"):
                leftover.unlink()
        truth = pd.read_parquet(Path(catalogue_dir) / TRUTH_FILE).set_index("id")
        wanted = [str(i) for i in selected["id"]]
        positions = dict(zip(wanted, zip(selected["ra"].astype(float), selected["dec"].astype(float))))
        with_fits = set(sorted(i for i in wanted if i in truth.index)[:self.cfg.fits_examples])
        for stale in fits_dir.glob(f"*{FITS_SUFFIX}"):
            if stale.name[:-len(FITS_SUFFIX)] not in with_fits:
                stale.unlink()
        jobs: list[Job] = []
        manifest: dict[str, tuple[str, str]] = {}
        for galaxy_id in wanted:
            if galaxy_id not in truth.index:
                manifest[galaxy_id] = ("failed", f"id not in {TRUTH_FILE}")
                continue
            image = images / f"{galaxy_id}{self.image_suffix}"
            fits = fits_dir / f"{galaxy_id}{FITS_SUFFIX}" if galaxy_id in with_fits else None
            if image.exists():
                manifest[galaxy_id] = ("ok", "already rendered")
                image = None
            if fits is not None and fits.exists():
                fits = None
            if image is not None or fits is not None:
                jobs.append(Job(galaxy_id, truth.loc[galaxy_id].to_dict(), positions[galaxy_id], image, fits))
        with progress(total=len(jobs), desc=f"render {self.name}", unit="img") as bar:
            for galaxy_id, status, reason in self._render_all(jobs):
                if status == "failed" or galaxy_id not in manifest:  # "already rendered" stays
                    manifest[galaxy_id] = (status, reason)
                bar.update()
        return pd.DataFrame([(i, *manifest[i]) for i in wanted], columns=["id", "status", "reason"])

    def _render_all(self, jobs: list[Job]) -> Iterator[tuple[str, str, str]]:
        context = (self.seed, self.name, self.cfg, self.image_suffix)
        if self.cfg.n_workers == 1 or len(jobs) <= 1:
            _init_worker(*context)
            yield from map(_render_one, jobs)
            return
        with get_context("spawn").Pool(self.cfg.n_workers, initializer=_init_worker, initargs=context) as pool:
            yield from pool.imap_unordered(_render_one, jobs, chunksize=POOL_CHUNK)


class Job(NamedTuple):
    """One galaxy to draw, and the files to write (None: already there, or not wanted)."""

    galaxy_id: str
    row: dict[str, Any]  # its truth row
    position: tuple[float, float]  # (ra, dec) degrees: the FITS file's WCS centre
    image: Path | None
    fits: Path | None


# --- worker side: the survey's settings are sent once per worker, not once per galaxy ---------------
_WORKER: dict[str, Any] = {}


def _init_worker(seed: int, name: str, cfg: SimSourceCfg, suffix: str) -> None:
    _WORKER.update(seed=seed, name=name, cfg=cfg, suffix=suffix)


def _render_one(job: Job) -> tuple[str, str, str]:
    cfg = _WORKER["cfg"]
    try:
        bands = render_bands(job.row, cfg, keyed_rng(_WORKER["seed"], _WORKER["name"], "render", job.galaxy_id))
        if job.image is not None:
            _write_atomic(job.image, encode(compose_image(bands, cfg), cfg.image))
        if job.fits is not None:
            scale = float(job.row["pixel_scale"])
            flux = cutout_bands(bands, cfg.image.size_px, scale)
            _write_atomic(job.fits, fits_bytes(flux, cfg.instrument.rgb_bands, scale, *job.position))
    except Exception as exc:  # noqa: BLE001 - one bad galaxy must not stop the survey; it is reported
        return job.galaxy_id, "failed", f"{type(exc).__name__}: {exc}"
    return job.galaxy_id, "ok", ""


def _write_atomic(final: Path, data: bytes) -> None:
    """Write ``final`` by renaming a complete temporary file: a crash never leaves a truncated
    file under its name."""
    partial = final.with_name(f"{final.name}{TEMP_MARKER}{os.getpid()}")
    try:
        partial.write_bytes(data)
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)


def _write_parquet(table: pd.DataFrame, path: Path) -> None:
    partial = path.with_name(path.name + TEMP_MARKER + str(os.getpid()))
    table.to_parquet(partial, index=False)
    os.replace(partial, path)
