"""The six measures of paper Table 4 on a galaxy's own image: statmorph, segmented by photutils.

Per galaxy (:func:`measure_image`): one intensity band of the survey's display image, block-averaged
to at most ``morphology.max_size_px``; the sky estimated on the image's border and subtracted;
photutils' ``detect_sources`` + ``deblend_sources`` segment it and the segment of the central
source is measured (the other sources are masked); ``statmorph.source_morphology`` with a
weightmap of the sky noise gives

- ``A`` asymmetry, ``G`` Gini, ``M20`` (dimensionless, as PawlikMorph's);
- ``SB0``: the Sersic fit's central surface brightness, ``I_e * exp(b_n)``, in the display
  image's intensity units (0-1 per channel) per native pixel (block averaging keeps a surface
  brightness per native pixel);
- ``Reff``: the Sersic fit's half-light radius (``sersic_rhalf``) in pixels of the native image;
- ``n``: the Sersic index;

plus statmorph's ``flag`` (0 good, 1 suspect, 2 bad, 4 catastrophic) and ``flag_sersic``.  A galaxy
that cannot be measured (nothing detected, statmorph raising, a flag above ``morphology.max_flag``,
a non-finite value) is a row with NaN measures and the reason in ``error``, never fatal; where
statmorph gave no flags (nothing detected, an exception) both are 4, statmorph's own "catastrophic".

The images are the surveys' display cutouts (SDSS/DECaLS JPEG or PNG), asinh-stretched (Lupton et
al. 2004) and 8-bit, not calibrated FITS: intensities are not linear in flux.  ``A``, ``G`` and
``M20`` keep their meaning, but the absolute values (above all ``SB0``, and ``n``, which the
stretch flattens) differ from PawlikMorph's, measured on SDSS r-band FITS frames in counts.
"""
from __future__ import annotations

import math
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from astropy.convolution import Gaussian2DKernel, convolve
from astropy.stats import gaussian_fwhm_to_sigma, sigma_clipped_stats
from PIL import Image as PILImage
from scipy.special import gammaincinv

from pipeline.params import Morphology
from pipeline.progress import progress

#: The measures of paper Table 4, in its order: the column names of every morphology table.
MEASURES = ("A", "G", "M20", "SB0", "Reff", "n")
COLUMNS = ("id", *MEASURES, "flag", "flag_sersic", "error")
#: The r band in every survey's colour composite: SDSS getjpeg and GZ2 map (i, r, g) and the
#: Legacy Surveys' viewer (z, r, g) to (R, G, B), so green is r, the band PawlikMorph measured.
R_BAND_CHANNEL = 1
#: One 8-bit grey level in [0, 1] units; its quantisation noise (level / sqrt(12)) is the floor of
#: the sky noise of a display image whose sky is a flat zero.
LEVEL = 1.0 / 255.0
#: statmorph's flag for "nothing could be measured".
CATASTROPHIC = 4


@dataclass(frozen=True)
class SkySubtracted:
    """One image ready for statmorph: sky-subtracted band, its noise, and the native pixel scale."""

    image: np.ndarray      # float64, sky subtracted
    sigma: float           # sky noise per (block-averaged) pixel
    factor: int            # native pixels per measured pixel, along each axis


def intensity(path: Path) -> np.ndarray:
    """The r-band proxy (:data:`R_BAND_CHANNEL`) of a display image, as float64 in [0, 1]; a
    greyscale image is its own band."""
    with PILImage.open(path) as img:
        data = np.asarray(img)
    band = data[..., R_BAND_CHANNEL] if data.ndim == 3 else data
    return band.astype(np.float64) / 255.0


def block_factor(side: int, max_size_px: int) -> int:
    """The smallest integer factor that brings ``side`` within ``max_size_px``."""
    return max(1, math.ceil(side / max_size_px))


def downsample(band: np.ndarray, factor: int) -> np.ndarray:
    """Mean of ``factor`` x ``factor`` blocks (the ragged edge dropped): surface brightness per
    native pixel is kept, and the pixel scale is exactly ``factor`` native pixels."""
    if factor == 1:
        return band
    ny, nx = (s // factor for s in band.shape)
    return band[:ny * factor, :nx * factor].reshape(ny, factor, nx, factor).mean(axis=(1, 3))


def prepare_band(band: np.ndarray, cfg: Morphology) -> SkySubtracted:
    """Downsample, then subtract the sky measured on the border (sigma-clipped median); the noise is
    the border's clipped std, never below the 8-bit quantisation noise (averaged over a block)."""
    factor = block_factor(max(band.shape), cfg.max_size_px)
    image = downsample(band, factor)
    width = max(2, round(cfg.sky_border_fraction * min(image.shape)))
    border = np.ones(image.shape, dtype=bool)
    border[width:-width, width:-width] = False
    _, median, std = sigma_clipped_stats(image[border], sigma=3.0)
    floor = LEVEL / math.sqrt(12) / factor
    return SkySubtracted(image=image - median, sigma=max(float(std), floor), factor=factor)


def central_segment(sky: SkySubtracted, cfg: Morphology) -> tuple[np.ndarray, np.ndarray] | str:
    """The central source's segment and the mask of every other source, or why there is none.

    The central source is the segment under the image's centre, else the one whose nearest pixel
    is closest to it (a galaxy whose centre fell below the threshold is still the target)."""
    # imported here, as statmorph below: seconds of imports that readers of MEASURES never need
    from photutils.segmentation import deblend_sources, detect_sources

    kernel = Gaussian2DKernel(cfg.smooth_fwhm_px * gaussian_fwhm_to_sigma)
    smoothed = convolve(sky.image, kernel, normalize_kernel=True)
    threshold = cfg.detect_nsigma * sky.sigma
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no sources were found": said in the row instead
        segm = detect_sources(smoothed, threshold, cfg.detect_npixels)
    if segm is None:
        return f"no source {cfg.detect_nsigma} sigma above the sky"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # photutils warns of sources it cannot deblend further
        segm = deblend_sources(smoothed, segm, cfg.detect_npixels, contrast=cfg.deblend_contrast,
                               progress_bar=False)
    labels = segm.data
    cy, cx = (s // 2 for s in labels.shape)
    label = int(labels[cy, cx])
    if label == 0:
        yy, xx = np.nonzero(labels)
        nearest = np.argmin((yy - cy) ** 2 + (xx - cx) ** 2)
        label = int(labels[yy[nearest], xx[nearest]])
    return labels == label, (labels > 0) & (labels != label)


def sersic_central(amplitude: float, n: float) -> float:
    """Central surface brightness of a Sersic profile of surface brightness ``amplitude`` at the
    half-light radius: ``I_0 = I_e exp(b_n)``, with ``b_n`` exact (astropy's Sersic2D's)."""
    return float(amplitude * math.exp(gammaincinv(2 * n, 0.5)))


def failed(gid: str, reason: str, flag: int = CATASTROPHIC, flag_sersic: int = CATASTROPHIC) -> dict:
    """The row of a galaxy that could not be measured: NaN measures, its flags and why."""
    return {"id": gid, **dict.fromkeys(MEASURES, np.nan), "flag": flag, "flag_sersic": flag_sersic,
            "error": reason}


def measure_band(gid: str, band: np.ndarray, cfg: Morphology) -> dict:
    """The row of :data:`COLUMNS` for one galaxy's single-band image (values in [0, 1])."""
    import statmorph

    sky = prepare_band(band, cfg)
    found = central_segment(sky, cfg)
    if isinstance(found, str):
        return failed(gid, found)
    segment, others = found
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # statmorph and astropy's fitter warn of every doubt
            morph = statmorph.source_morphology(
                sky.image, segment.astype(np.int32), mask=others,
                weightmap=np.full(sky.image.shape, sky.sigma))[0]
    except Exception as exc:  # noqa: BLE001 - any statmorph failure is this galaxy's row, not the stage's
        return failed(gid, f"statmorph: {type(exc).__name__}: {exc}"[:200])
    flag, flag_sersic = int(morph.flag), int(morph.flag_sersic)
    if max(flag, flag_sersic) > cfg.max_flag:
        return failed(gid, f"statmorph flag {flag}, flag_sersic {flag_sersic} above morphology.max_flag "
                           f"{cfg.max_flag}", flag, flag_sersic)
    values = {"A": morph.asymmetry, "G": morph.gini, "M20": morph.m20,
              "SB0": sersic_central(morph.sersic_amplitude, morph.sersic_n),
              "Reff": morph.sersic_rhalf * sky.factor, "n": morph.sersic_n}
    bad = [k for k, v in values.items() if not np.isfinite(v)]
    if bad:
        return failed(gid, f"statmorph gave no finite {', '.join(bad)}", flag, flag_sersic)
    return {"id": gid, **{k: float(v) for k, v in values.items()}, "flag": flag, "flag_sersic": flag_sersic,
            "error": ""}


def measure_file(job: tuple[str, Path, Morphology]) -> dict:
    """:func:`measure_band` on an image file (a process pool's unit of work)."""
    gid, path, cfg = job
    try:
        band = intensity(path)
    except OSError as exc:
        return failed(gid, f"unreadable image {path}: {exc}")
    return measure_band(gid, band, cfg)


def measure_files(files: dict[str, Path], cfg: Morphology, desc: str) -> pd.DataFrame:
    """The table of :data:`COLUMNS` for ``files`` (id -> image), in their order, measured by
    ``cfg.n_workers`` processes."""
    jobs = [(gid, path, cfg) for gid, path in files.items()]
    if cfg.n_workers == 1:
        rows = [measure_file(job) for job in progress(jobs, desc=desc, unit="galaxy")]
    else:
        with ProcessPoolExecutor(cfg.n_workers) as pool:
            rows = list(progress(pool.map(measure_file, jobs, chunksize=4), total=len(jobs), desc=desc,
                                 unit="galaxy"))
    return pd.DataFrame(rows, columns=list(COLUMNS))
