"""Which member of ``images_gz2.zip`` is each GZ2 galaxy's image (issue 9).

``gz2_filename_mapping.csv`` (Zenodo 3565489; ``objid, sample, asset_id``) names the member
``{asset_id}.jpg``.  It has 355,990 rows for 243,434 images: an objid may be listed under several
samples (``original``, ``extra``, ``stripe82`` ...) with different asset_ids, and not every one
of them is in the zip, so the last row (a plain ``dict`` of the rows) can name a missing image.

Each objid's asset_ids are therefore ordered: the ``original`` sample first (the main GZ2 sample,
whose images the Hart16 votes of that objid most likely were cast on), then the lowest asset_id,
a rule that does not depend on the order of the file's rows, so every run picks the same image.
The first one the archive holds is taken; an objid with several different images in the archive
is *ambiguous* and reported.  Ids stay text, as read.
"""
from __future__ import annotations

from pathlib import Path
from typing import Collection, Mapping

import pandas as pd

MAPPING_ID, MAPPING_SAMPLE, MAPPING_ASSET = "objid", "sample", "asset_id"
PREFERRED_SAMPLE = "original"
MEMBER = "{asset_id}.jpg"


def member_candidates(mapping_file: Path) -> dict[str, list[str]]:
    """objid -> its distinct member names, most preferred first (see the module docstring)."""
    mapping = pd.read_csv(mapping_file, usecols=[MAPPING_ID, MAPPING_SAMPLE, MAPPING_ASSET], dtype=str)
    mapping = mapping.assign(
        _other_sample=mapping[MAPPING_SAMPLE] != PREFERRED_SAMPLE,
        # numeric order for integer ids ("999" before "1000"), text order for any other
        _number=pd.to_numeric(mapping[MAPPING_ASSET], errors="coerce"))
    mapping = mapping.sort_values([MAPPING_ID, "_other_sample", "_number", MAPPING_ASSET], kind="stable")
    mapping = mapping.drop_duplicates([MAPPING_ID, MAPPING_ASSET])
    return {objid: [MEMBER.format(asset_id=a) for a in assets]
            for objid, assets in mapping.groupby(MAPPING_ID, sort=False)[MAPPING_ASSET]}


def choose_members(candidates: Mapping[str, list[str]], present: Collection[str]
                   ) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Each objid's member: its first candidate in ``present``, else its first (which then fails
    as not in the archive).  Also returns the ambiguous objids with the candidates present."""
    chosen: dict[str, str] = {}
    ambiguous: dict[str, list[str]] = {}
    for objid, names in candidates.items():
        held = [name for name in names if name in present]
        chosen[objid] = (held or names)[0]
        if len(held) > 1:
            ambiguous[objid] = held
    return chosen, ambiguous


def ambiguity_report(ambiguous: Mapping[str, list[str]], examples: int = 3) -> str:
    """One line: how many objids had several images in the archive, a few of them, the rule taken."""
    shown = "; ".join(f"{objid}: {', '.join(names)}" for objid, names in list(ambiguous.items())[:examples])
    return (f"{len(ambiguous)} objids have several images in the archive (e.g. {shown}); took the "
            f"'{PREFERRED_SAMPLE}' sample's, else the lowest asset_id")
