"""Parameters of the simulated surveys, parsed strictly from ``params.yaml``.

``sim_population`` (shared by every simulated survey) holds the physics of the galaxies and the
behaviour of the simulated volunteers; each ``survey.sim_*.source`` block adds what differs
between surveys: instrument (PSF, depth, pixel scale), image geometry, vote counts and class mix
(DESIGN.md sect. 2-3).  No number of the simulator lives in code.

A ``Span`` is an inclusive ``[low, high]`` range a value is drawn from uniformly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pipeline.config import check_fraction, check_positive, require

Span = tuple[float, float]
IntSpan = tuple[int, int]


def _check_non_negative(cfg: object, name: str, path: str) -> None:
    value = getattr(cfg, name)
    require(value >= 0, f"{path}.{name}", f"{value} must be >= 0")


def check_span(span: tuple[float, ...], path: str, *, low: float | None = None,
               high: float | None = None) -> None:
    """A span has two ordered values inside ``[low, high]`` (each bound optional)."""
    require(len(span) == 2, path, f"expected [low, high], got {list(span)}")
    require(span[0] <= span[1], path, f"low {span[0]} exceeds high {span[1]}")
    if low is not None:
        require(span[0] >= low, path, f"{span[0]} is below {low}")
    if high is not None:
        require(span[1] <= high, path, f"{span[1]} is above {high}")


@dataclass(frozen=True)
class KindCfg:
    """Structural parameters of one morphological kind (drawn uniformly within each span).

    A kind with ``bulge_to_total`` [1, 1] is a pure spheroid; its disk parameters are unused.
    """

    bulge_to_total: Span
    bulge_sersic_n: Span
    bulge_axis_ratio: Span
    bulge_size_ratio: Span  # bulge half-light radius / galaxy size
    inclination_deg: Span  # disk inclination, drawn isotropically (uniform in cos i)
    arm_strength: Span  # 0: smooth exponential disk; 1: all disk light in the arms
    n_arms: IntSpan
    pitch_deg: Span
    clump_fraction: Span  # fraction of the disk light in star-forming clumps
    n_clumps: IntSpan
    colour_scale: Span  # multiplies every component's colour offsets: < 1 bluer (younger), > 1 redder

    def validate(self, path: str) -> None:
        check_span(self.bulge_to_total, f"{path}.bulge_to_total", low=0, high=1)
        check_span(self.bulge_sersic_n, f"{path}.bulge_sersic_n", low=0.3, high=6.2)  # GalSim's range
        check_span(self.bulge_axis_ratio, f"{path}.bulge_axis_ratio", low=0.05, high=1)
        check_span(self.bulge_size_ratio, f"{path}.bulge_size_ratio", low=0.01)
        check_span(self.inclination_deg, f"{path}.inclination_deg", low=0, high=90)
        check_span(self.arm_strength, f"{path}.arm_strength", low=0, high=1)
        check_span(self.n_arms, f"{path}.n_arms", low=1)
        check_span(self.pitch_deg, f"{path}.pitch_deg", low=1, high=89)
        check_span(self.clump_fraction, f"{path}.clump_fraction", low=0, high=1)
        check_span(self.n_clumps, f"{path}.n_clumps", low=0)
        check_span(self.colour_scale, f"{path}.colour_scale", low=0)


@dataclass(frozen=True)
class RadiusCfg:
    """Size-luminosity relation: log10 R = log10(r50_at_ref) - dex_per_mag (m - ref_mag) + scatter."""

    ref_mag: float
    r50_at_ref_arcsec: float
    dex_per_mag: float
    scatter_dex: float
    r50_range_arcsec: Span

    def validate(self, path: str) -> None:
        check_positive(self.r50_at_ref_arcsec, f"{path}.r50_at_ref_arcsec")
        _check_non_negative(self, "scatter_dex", path)
        check_span(self.r50_range_arcsec, f"{path}.r50_range_arcsec", low=1e-3)


@dataclass(frozen=True)
class ColoursCfg:
    """Colours as magnitude offsets m_band - m_r of each light component (r must be 0).

    Each galaxy scales a component's offsets by a factor drawn from N(1, scatter), reddens all
    its components by ``shift`` x U(shift_range) (redshift: k-correction), and its disk and
    clumps by ``dust`` x log10(1 / apparent disk axis ratio) (inclined disks are dustier).
    """

    bulge: dict[str, float]
    disk: dict[str, float]
    clumps: dict[str, float]
    scatter: float
    shift: dict[str, float]
    shift_range: Span
    dust: dict[str, float]

    def validate(self, path: str) -> None:
        for name in ("bulge", "disk", "clumps", "shift", "dust"):
            offsets = getattr(self, name)
            require(set(offsets) == set(self.bulge), f"{path}.{name}", "every component needs the same bands")
            require(offsets.get("r") == 0, f"{path}.{name}.r", "offsets are relative to r: r must be 0")
        _check_non_negative(self, "scatter", path)
        check_span(self.shift_range, f"{path}.shift_range")


@dataclass(frozen=True)
class CompanionCfg:
    """A bright close neighbour (merger-like) in some frames; it is part of the catalogue galaxy."""

    fraction: float
    mag_offset: Span  # companion magnitude minus the galaxy's
    separation_r50: Span
    r50_ratio: Span
    sersic_n: Span
    axis_ratio: Span
    red_fraction: float  # share of companions with bulge colours (the rest have disk colours)

    def validate(self, path: str) -> None:
        check_fraction(self.fraction, f"{path}.fraction")
        check_fraction(self.red_fraction, f"{path}.red_fraction")
        check_span(self.separation_r50, f"{path}.separation_r50", low=0)
        check_span(self.r50_ratio, f"{path}.r50_ratio", low=1e-3)
        check_span(self.sersic_n, f"{path}.sersic_n", low=0.3, high=6.2)
        check_span(self.axis_ratio, f"{path}.axis_ratio", low=0.05, high=1)


@dataclass(frozen=True)
class FieldCfg:
    """Unrelated background galaxies and foreground stars scattered over the frame."""

    galaxies_per_arcmin2: float
    galaxy_mag_r: Span
    galaxy_r50_arcsec: Span
    galaxy_sersic_n: Span
    galaxy_axis_ratio: Span
    stars_per_arcmin2: float
    star_mag_r: Span
    star_colour_scale: Span  # a star's colour offsets = bulge colours times this factor
    stamp_half_size_r50: float  # a stamp reaches the PSF's truncation radius plus this many r50

    def validate(self, path: str) -> None:
        _check_non_negative(self, "galaxies_per_arcmin2", path)
        _check_non_negative(self, "stars_per_arcmin2", path)
        check_span(self.galaxy_r50_arcsec, f"{path}.galaxy_r50_arcsec", low=1e-3)
        check_span(self.galaxy_sersic_n, f"{path}.galaxy_sersic_n", low=0.3, high=6.2)
        check_span(self.galaxy_axis_ratio, f"{path}.galaxy_axis_ratio", low=0.05, high=1)
        check_span(self.star_colour_scale, f"{path}.star_colour_scale")
        _check_non_negative(self, "stamp_half_size_r50", path)


@dataclass(frozen=True)
class DiskCfg:
    """Disk and spiral-arm geometry shared by all disk galaxies."""

    thickness: Span  # intrinsic axis ratio q0 of an edge-on disk (Hubble 1926)
    arm_sharpness: Span  # exponent of the arm profile ((1 + cos phase) / 2) ** sharpness
    arm_inner_r50: float  # arms fade inside this radius (in disk r50), where the bulge dominates
    clump_arm_bias: float  # clumps are placed with probability ~ disk light x arm modulation ** bias

    def validate(self, path: str) -> None:
        check_span(self.thickness, f"{path}.thickness", low=0.01, high=1)
        check_span(self.arm_sharpness, f"{path}.arm_sharpness", low=0)
        check_positive(self.arm_inner_r50, f"{path}.arm_inner_r50")
        _check_non_negative(self, "clump_arm_bias", path)


@dataclass(frozen=True)
class NumericsCfg:
    """Accuracy/speed knobs of the GalSim rendering (GalSim GSParams and the face-on disk grid)."""

    folding_threshold: float
    maxk_threshold: float
    sersic_n_step: float  # Sersic indices are rounded to this step so GalSim caches their tables
    sersic_trunc_r50: float  # Sersic profiles end at this many half-light radii (bounds the FFTs)
    psf_trunc_fwhm: float  # the Moffat PSF ends at this many FWHM (its wings set the FFT size)
    face_on_grid_px: int
    face_on_half_extent_r50: float

    def validate(self, path: str) -> None:
        check_fraction(self.folding_threshold, f"{path}.folding_threshold", open_low=True)
        check_fraction(self.maxk_threshold, f"{path}.maxk_threshold", open_low=True)
        check_positive(self.sersic_n_step, f"{path}.sersic_n_step")
        check_positive(self.sersic_trunc_r50, f"{path}.sersic_trunc_r50")
        check_positive(self.psf_trunc_fwhm, f"{path}.psf_trunc_fwhm")
        require(self.face_on_grid_px >= 16, f"{path}.face_on_grid_px", "must be >= 16")
        check_positive(self.face_on_half_extent_r50, f"{path}.face_on_half_extent_r50")


@dataclass(frozen=True)
class PetrosianCfg:
    """SDSS Petrosian photometry (Blanton et al. 2001): the catalogue radii the cutouts scale with."""

    ratio: float  # the Petrosian radius is where local / mean-inside surface brightness = ratio
    aperture_radii: float  # the Petrosian flux is measured within this many Petrosian radii
    scatter_dex: float  # measurement error of the catalogued radii (log-normal, both radii alike)

    def validate(self, path: str) -> None:
        check_fraction(self.ratio, f"{path}.ratio", open_low=True)
        check_positive(self.aperture_radii, f"{path}.aperture_radii")
        _check_non_negative(self, "scatter_dex", path)


@dataclass(frozen=True)
class VolunteersCfg:
    """How simulated volunteers perceive a galaxy (shared by all surveys; see ``volunteers.py``).

    Visibility of detail falls with resolution (galaxy r50 / PSF FWHM) and with surface-brightness
    signal-to-noise; invisible detail pulls answers towards "smooth" and towards round shapes,
    the bias Hart et al. 2016 debias.  Gains are logit slopes; widths are in ln units.
    """

    resolution_half: float
    resolution_width: float
    snr_half: float
    snr_width: float
    features_disk_half: float  # disk fraction 1 - B/T at which features and smooth tie
    features_disk_width: float
    features_arm_weight: float  # visible arm contrast counts as this much extra disk fraction
    features_gain: float
    faint_smooth_logit: float  # logit of "features" when nothing is visible
    thin_axis_ratio: float  # smooth objects thinner than this look disk-like
    thin_width: float
    thin_gain: float
    edge_on_axis_ratio: float  # observed axis ratio at which edge-on yes/no tie
    edge_on_width: float
    arm_resolution_half: float  # arms need more resolution than "features"
    arm_half: float  # visible arm contrast at which spiral yes/no tie
    arm_width: float
    round_axis_ratio: float  # observed q above which a smooth galaxy is "completely round"
    cigar_axis_ratio: float  # below which it is "cigar-shaped"
    rounded_width: float
    artifact_rate: float
    dont_know_rate: float
    dont_know_gain: float
    merger_gain: float  # GZ1 merger votes for a companion as bright as the galaxy at 1 r50
    chirality_confusion: float  # GZ1: share of spiral votes with the wrong winding
    concentration: float  # Dirichlet concentration of each galaxy's answer probabilities
    clicker_fraction: float  # volunteers who answer at random
    clicker_weight: float  # their GZ2 user weight (Hart et al.'s consistency weighting)

    def validate(self, path: str) -> None:
        for name in ("resolution_half", "resolution_width", "snr_half", "snr_width", "features_disk_width",
                     "thin_width", "edge_on_width", "arm_resolution_half", "arm_width", "rounded_width",
                     "concentration"):
            check_positive(getattr(self, name), f"{path}.{name}")
        for name in ("artifact_rate", "dont_know_rate", "chirality_confusion", "clicker_fraction",
                     "clicker_weight", "round_axis_ratio", "cigar_axis_ratio", "edge_on_axis_ratio"):
            check_fraction(getattr(self, name), f"{path}.{name}")
        require(self.cigar_axis_ratio < self.round_axis_ratio, f"{path}.cigar_axis_ratio",
                "must be below round_axis_ratio")


@dataclass(frozen=True)
class PopulationCfg:
    """The shared galaxy population (``sim_population`` in params.yaml)."""

    mag_r: Span
    counts_slope: float  # d log10 N / d mag_r: a flux-limited sample is dominated by faint galaxies
    radius: RadiusCfg  # not `size`: DVC's run-cache ignores keys named size (dvc issue 10296)
    kinds: dict[str, KindCfg]
    disk: DiskCfg
    colours: ColoursCfg
    companion: CompanionCfg
    field: FieldCfg
    petrosian: PetrosianCfg
    volunteers: VolunteersCfg
    numerics: NumericsCfg

    def validate(self, path: str) -> None:
        check_span(self.mag_r, f"{path}.mag_r")
        require(len(self.kinds) > 0, f"{path}.kinds", "needs at least one kind")


@dataclass(frozen=True)
class SkyCfg:
    """Footprint the galaxies are scattered over (uniform on the sphere)."""

    ra_deg: Span
    dec_deg: Span

    def validate(self, path: str) -> None:
        check_span(self.ra_deg, f"{path}.ra_deg", low=0, high=360)
        check_span(self.dec_deg, f"{path}.dec_deg", low=-90, high=90)


@dataclass(frozen=True)
class InstrumentCfg:
    """Detector and seeing: Moffat PSF (seeing varies frame to frame), native pixels, sky noise."""

    rgb_bands: tuple[str, ...]  # bands shown as red, green, blue
    native_scale_arcsec: float
    psf_fwhm_arcsec: Span
    psf_moffat_beta: float
    sky_sb_1sigma: dict[str, float]  # mag/arcsec^2 of the 1-sigma sky noise in a 1"x1" box

    def validate(self, path: str) -> None:
        require(len(self.rgb_bands) == 3, f"{path}.rgb_bands", "needs three bands (red, green, blue)")
        # the volunteers judge depth in r, as Galaxy Zoo's r-band-selected samples
        for band in (*self.rgb_bands, "r"):
            require(band in self.sky_sb_1sigma, f"{path}.sky_sb_1sigma", f"no depth for band {band!r}")
        check_positive(self.native_scale_arcsec, f"{path}.native_scale_arcsec")
        check_span(self.psf_fwhm_arcsec, f"{path}.psf_fwhm_arcsec", low=1e-3)
        require(self.psf_moffat_beta > 1.1, f"{path}.psf_moffat_beta", "must exceed 1.1 (GalSim Moffat)")


@dataclass(frozen=True)
class PixelScaleCfg:
    """Cutout pixel scale: ``fixed_arcsec``, or max(min(per_th50 th50, per_th90 th90), min_arcsec).

    GZ2: 0.02 petroR90_r; GZ DECaLS: max(min(0.04 th50, 0.02 th90), 0.1); SDSS: fixed 0.2.
    """

    fixed_arcsec: float | None
    per_th50: float | None
    per_th90: float | None
    min_arcsec: float | None

    def validate(self, path: str) -> None:
        relative = self.per_th50 is not None or self.per_th90 is not None
        require((self.fixed_arcsec is None) == relative, path,
                "give either fixed_arcsec or per_th50/per_th90, not both or neither")
        for name in ("fixed_arcsec", "per_th50", "per_th90"):
            if getattr(self, name) is not None:
                check_positive(getattr(self, name), f"{path}.{name}")


@dataclass(frozen=True)
class ImageCfg:
    """The cutout as the survey serves it, and the Lupton et al. (2004) asinh colour composite."""

    size_px: int
    pixel_scale: PixelScaleCfg
    max_render_px: int  # render at most this many pixels across, then resample (speed)
    format: Literal["jpeg", "png"]
    asinh_q: float
    asinh_stretch_sb: float  # mag/arcsec^2 where the stretch turns from linear to logarithmic
    band_weights: tuple[float, ...]  # multiplies the red, green, blue bands before the stretch
    # The survey stores its colour mosaic as JPEG at the render scale and cuts images out of it
    # (SDSS: FITS2JPEG frames, then ImgCutout resamples and re-encodes): null for no such step.
    mosaic_jpeg_quality: int | None = None
    jpeg_quality: int | None = None  # for format jpeg
    png_compress_level: int | None = None  # for format png

    def validate(self, path: str) -> None:
        require(self.size_px >= 8, f"{path}.size_px", "must be >= 8")
        require(self.max_render_px >= 8, f"{path}.max_render_px", "must be >= 8")
        if self.format == "jpeg":
            require(self.jpeg_quality is not None and 1 <= self.jpeg_quality <= 100, f"{path}.jpeg_quality",
                    f"{self.jpeg_quality} must lie in [1, 100] for format jpeg")
        else:
            require(self.png_compress_level is not None and 0 <= self.png_compress_level <= 9,
                    f"{path}.png_compress_level", f"{self.png_compress_level} must lie in [0, 9] for format png")
        if self.mosaic_jpeg_quality is not None:
            require(1 <= self.mosaic_jpeg_quality <= 100, f"{path}.mosaic_jpeg_quality",
                    f"{self.mosaic_jpeg_quality} must lie in [1, 100] (or null)")
        check_positive(self.asinh_q, f"{path}.asinh_q")
        require(len(self.band_weights) == 3, f"{path}.band_weights", "needs three weights")
        for i, weight in enumerate(self.band_weights):
            check_positive(weight, f"{path}.band_weights.{i}")


@dataclass(frozen=True)
class VotesCfg:
    """Vote counts of one survey's volunteers and the schema-specific extras."""

    n_volunteers: IntSpan
    difficulty: float  # divides every volunteer gain: > 1 gives more split votes
    clean_fraction: float | None = None  # zooNoSpec: share of galaxies with Galaxy.clean = 1
    flag_debiased: float | None = None  # gz2_hart16: flag = debiased fraction >= this ...
    flag_min_votes: int | None = None  # ... with at least this many votes for the task

    def validate(self, path: str) -> None:
        check_span(self.n_volunteers, f"{path}.n_volunteers", low=1)
        check_positive(self.difficulty, f"{path}.difficulty")
        if self.clean_fraction is not None:
            check_fraction(self.clean_fraction, f"{path}.clean_fraction")
        if self.flag_debiased is not None:
            check_fraction(self.flag_debiased, f"{path}.flag_debiased")


Schema = Literal["gz2_hart16", "zoonospec", "gz_decals_volunteers_5"]

#: Schema-specific vote settings each schema needs.
_SCHEMA_VOTE_KEYS: dict[str, tuple[str, ...]] = {
    "gz2_hart16": ("flag_debiased", "flag_min_votes"),
    "zoonospec": ("clean_fraction",),
    "gz_decals_volunteers_5": (),
}


@dataclass(frozen=True)
class SimSourceCfg:
    """``survey.<name>.source`` of a simulated survey."""

    kind: Literal["sim"]
    schema: Schema
    population: PopulationCfg
    n_galaxies: int
    kind_mix: dict[str, float]  # relative frequency of each population kind
    truth_class: dict[str, str]  # kind -> class of this survey; other kinds are "other"
    sky: SkyCfg
    instrument: InstrumentCfg
    image: ImageCfg
    votes: VotesCfg
    n_workers: int
    fits_examples: int  # the first this many selected galaxies (ids sorted) also get a FITS file

    def validate(self, path: str) -> None:
        require(self.n_galaxies > 0, f"{path}.n_galaxies", f"{self.n_galaxies} must be positive")
        require(self.fits_examples >= 0, f"{path}.fits_examples", f"{self.fits_examples} must be >= 0")
        require(self.n_workers > 0, f"{path}.n_workers", f"{self.n_workers} must be positive")
        kinds = self.population.kinds
        for kind, weight in self.kind_mix.items():
            require(kind in kinds, f"{path}.kind_mix.{kind}", f"not a population kind ({', '.join(kinds)})")
            require(weight >= 0, f"{path}.kind_mix.{kind}", f"{weight} must be >= 0")
        require(sum(self.kind_mix.values()) > 0, f"{path}.kind_mix", "weights sum to zero")
        for kind in self.truth_class:
            require(kind in kinds, f"{path}.truth_class.{kind}", "not a population kind")
        for band in self.instrument.rgb_bands:
            require(band in self.population.colours.bulge, f"{path}.instrument.rgb_bands",
                    f"population has no colour for band {band!r}")
        for key in _SCHEMA_VOTE_KEYS[self.schema]:
            require(getattr(self.votes, key) is not None, f"{path}.votes.{key}",
                    f"missing key (needed by schema {self.schema})")
