"""A survey's colour mapping: how its JPEG cutouts turn three bands of flux into RGB.

Survey cutouts are Lupton et al. (2004) asinh composites (or close to one): each band, scaled by
a weight, is multiplied by asinh(Q I / stretch) / (Q I) with I the mean of the weighted bands, so
faint and bright parts both show and every pixel keeps its colour.  FITS input
(``pipeline/fits_rgb.py``) applies the survey's own mapping, so that a model trained on the
survey's JPEGs sees the FITS images as it saw those.

Where the mapping comes from (one place for each fact): a simulated survey's is the composite its
simulator renders with (``source.instrument.rgb_bands`` and ``source.image``'s ``asinh_q``,
``asinh_stretch_sb`` and ``band_weights``); a real survey's is its ``source.colour`` block.  The
``shared`` stage writes it as ``data/shared/<survey>/colour.json``.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

from pipeline.config import ConfigError, check_positive, parse, require

COLOUR_FILE = "colour.json"
NMGY_ZERO_POINT = 22.5  # AB magnitude of one nanomaggy (the SDSS and Legacy Survey flux unit)
#: Source kinds whose colour mapping is that of their simulator's composite.
SIMULATED = ("sim",)


@dataclass(frozen=True)
class Colour:
    """Bands shown as red, green and blue, and the asinh stretch that maps their flux to RGB."""

    bands: tuple[str, ...]  # red, green, blue band names, e.g. (i, r, g) for SDSS
    band_weights: tuple[float, ...]  # multiply the red, green, blue bands before the stretch
    asinh_q: float  # Lupton's softening Q: how soon the stretch turns logarithmic
    asinh_stretch_sb: float  # mag/arcsec^2 (AB) where it turns: the linear range's scale

    def validate(self, path: str) -> None:
        require(len(self.bands) == 3, f"{path}.bands", f"needs three bands (red, green, blue), got {list(self.bands)}")
        require(len(set(self.bands)) == 3, f"{path}.bands", f"a band appears twice in {list(self.bands)}")
        require(len(self.band_weights) == 3, f"{path}.band_weights", "needs three weights")
        for i, weight in enumerate(self.band_weights):
            check_positive(weight, f"{path}.band_weights.{i}")
        check_positive(self.asinh_q, f"{path}.asinh_q")

    @property
    def stretch_nmgy(self) -> float:
        """The stretch in nanomaggies per arcsec^2."""
        return 10 ** (-0.4 * (self.asinh_stretch_sb - NMGY_ZERO_POINT))

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (lists, not tuples); :meth:`from_dict` reads it back."""
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: str = "colour") -> Colour:
        """Parse and validate; an error names the key under ``path``."""
        return parse(cls, data, path)


def survey_colour(name: str, source: Mapping[str, Any]) -> Colour | None:
    """The colour mapping of survey ``name`` from its ``source`` params block; None where the
    survey has none (a local survey of JPEGs whose recipe is unknown)."""
    path = f"survey.{name}.source"
    if source.get("kind") in SIMULATED:
        where = {"bands": ("instrument", "rgb_bands"), "band_weights": ("image", "band_weights"),
                 "asinh_q": ("image", "asinh_q"), "asinh_stretch_sb": ("image", "asinh_stretch_sb")}
        data = {}
        for field, (block, key) in where.items():
            if key not in source.get(block, {}):
                raise ConfigError(f"{path}.{block}.{key}: missing key (the simulator's colour composite)")
            data[field] = source[block][key]
        return Colour.from_dict(data, path)
    if "colour" in source:
        return Colour.from_dict(source["colour"], f"{path}.colour")
    return None


def write_colour(folder: Path, colour: Colour | None) -> None:
    """``folder/colour.json``: the mapping (``null`` for none), keys sorted so that an unchanged
    mapping gives a byte-identical file."""
    folder.mkdir(parents=True, exist_ok=True)
    content = None if colour is None else colour.as_dict()
    (folder / COLOUR_FILE).write_text(json.dumps(content, indent=1, sort_keys=True) + "\n")


def read_colour(folder: Path) -> Colour | None:
    """The mapping :func:`write_colour` wrote in ``folder`` (the shared stage's output)."""
    path = Path(folder) / COLOUR_FILE
    if not path.exists():
        raise ConfigError(f"{path}: missing; run the shared stage first (dvc repro)")
    data = json.loads(path.read_text())
    return None if data is None else Colour.from_dict(data, str(path))
