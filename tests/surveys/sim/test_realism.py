"""The simulated SDSS-like cutouts look like real ones: issue 7's targets on a small sample."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pipeline import realism
from pipeline.params import load_params, survey_params
from pipeline.selection import select
from pipeline.surveys.base import IMAGES_DIR
from tests.surveys.sim.conftest import PARAMS, make_source

PER_CLASS = 25


@pytest.mark.parametrize("name", ["sim_gz2", "sim_sdss"])
def test_sample_statistics_stay_inside_the_real_targets(tmp_path, name):
    """p50 of sky level, sky noise, centre brightness (and for GZ2-scaled cutouts the fraction
    above 5 sigma) inside the real p10-p90, chroma noise at most the real p90, and each class's
    centre red/blue within 0.2 of the real median; on galaxies chosen by the survey's own rules."""
    survey = survey_params(load_params(PARAMS), name)
    source = make_source(name, n_galaxies=600, n_workers=2)
    catalogue = source.fetch_catalogue(tmp_path / "catalogue")
    chosen = select(catalogue, survey.selection, list(survey.classes), id_column=source.id_column,
                    survey=name).selected.groupby("label").head(PER_CLASS)
    assert chosen["label"].value_counts().min() >= 15, "too few selected galaxies for stable percentiles"
    manifest = source.fetch_images(chosen, tmp_path / "catalogue", tmp_path / "images")
    assert (manifest["status"] == "ok").all(), manifest
    stats = [realism.image_statistics(np.asarray(Image.open(
        tmp_path / "images" / IMAGES_DIR / f"{galaxy_id}{source.image_suffix}").convert("RGB")))
        for galaxy_id in chosen["id"]]
    summary = realism.summarise(stats, list(chosen["label"]))
    galaxy_scaled = source.cfg.image.pixel_scale.fixed_arcsec is None  # sim_gz2, not sim_sdss
    assert realism.target_failures(summary, fraction_above=galaxy_scaled) == [], summary
