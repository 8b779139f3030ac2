"""`galaxy-contrastive embed` on the simulator's FITS cutouts gives (nearly) the vectors of the
survey's JPEGs of the same galaxies: the model file's colour mapping shows FITS as the survey does."""
from __future__ import annotations

import shutil

import numpy as np

from pipeline.cli.vectors import read_vectors
from pipeline.colour import read_colour
from pipeline.model_file import read_info
from tests.cli.conftest import SURVEY
from tests.cli.test_embed import cli, images_of, model_of

MIN_MEDIAN_COSINE = 0.9  # issue 12
MIN_OWN_NEAREST = 0.75  # share of FITS files whose nearest JPEG (cosine) is their own galaxy's


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (_unit(a) * _unit(b)).sum(axis=1)


def test_fits_and_jpeg_of_a_galaxy_embed_alike(trained_sim_sdss, tmp_path):
    repo = trained_sim_sdss
    fits_dir = images_of(repo).parent / "fits"
    ids = sorted(p.stem for p in fits_dir.glob("*.fits"))
    assert len(ids) >= 4, "the images stage wrote too few FITS files"
    # the model file carries the mapping the shared stage wrote for the survey
    assert read_info(model_of(repo)).colour == read_colour(repo.path / "data" / "shared" / SURVEY).as_dict()
    jpegs = tmp_path / "jpeg"
    jpegs.mkdir()
    for galaxy_id in ids:
        shutil.copy(images_of(repo) / f"{galaxy_id}.jpg", jpegs)
    vectors = {}
    for kind, folder in (("fits", fits_dir), ("jpeg", jpegs)):
        out = tmp_path / f"{kind}.parquet"
        proc = cli("embed", model_of(repo), folder, "-o", out, "--device", "cpu", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        vectors[kind] = read_vectors(out)
        assert list(vectors[kind].ids) == ids
    for representation in ("backbone", "projection"):
        fits_vectors, jpeg_vectors = (getattr(vectors[kind], representation) for kind in ("fits", "jpeg"))
        cosines = _cosines(fits_vectors, jpeg_vectors)
        assert np.median(cosines) >= MIN_MEDIAN_COSINE, (representation, cosines)
        # A two-epoch model puts every galaxy near every other (cosines of 0.97-0.995 between
        # different galaxies here), so 0.9 alone cannot tell them apart: most FITS files must
        # also find their own JPEG nearest (all 8 do here, by a margin of 1.2-50x in 1 - cosine).
        nearest = np.argmax(_unit(fits_vectors) @ _unit(jpeg_vectors).T, axis=1)
        assert (nearest == np.arange(len(ids))).mean() >= MIN_OWN_NEAREST, (representation, nearest)
