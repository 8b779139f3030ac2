"""Simulated surveys (sim_gz2, sim_sdss, sim_decals): GalSim galaxies and simulated volunteers.

One population generator (``population.py``), observed through each survey's PSF, depth, pixel
scale and image geometry (``render.py``, ``rgb.py``), classified by simulated volunteers into the
real catalogue's vote schema (``volunteers.py``, ``votes.py``).  ``SimSource`` (``source.py``)
implements ``pipeline.surveys.base.Source``.
"""
from pipeline.surveys.sim.source import SimSource

__all__ = ["SimSource"]
