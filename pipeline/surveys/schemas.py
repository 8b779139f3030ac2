"""Column names and identifier formats of the real vote catalogues (one place for each).

The simulated surveys write their vote tables in these schemas, and the real sources read them,
so the selection rules of Wei et al. 2022 (Table 1; DESIGN.md sect. 1-2) name the same columns
for a simulated and a real survey.

- GZ2: Hart et al. 2016, ``gz2_hart16``: ``t{NN}_{task}_a{NN}_{answer}_{suffix}``.
- SDSS DR17: Galaxy Zoo 1 table ``zooNoSpec`` joined with the ``Galaxy`` view (``clean``).
- GZ DECaLS: Walmsley et al. 2022, ``gz_decals_volunteers_5``: ``{question}_{answer}[_suffix]``.
"""
from __future__ import annotations

from typing import Literal

# --- GZ2, Hart et al. 2016 ----------------------------------------------------------------------
HART16_ID = "dr7objid"
HART16_META = ("dr7objid", "ra", "dec", "gz2_class", "total_classifications", "total_votes")
HART16_SUFFIXES = ("count", "weight", "fraction", "weighted_fraction", "debiased", "flag")
Hart16Suffix = Literal["count", "weight", "fraction", "weighted_fraction", "debiased", "flag"]

#: The tasks used here: task name -> (task number, {answer name: answer number}).  The numbers
#: are Hart et al.'s; the GZ2 decision tree asks t02 of features/disk votes, t04 of edge-on "no"
#: votes and t07 of smooth votes.
HART16_TASKS: dict[str, tuple[int, dict[str, int]]] = {
    "smooth_or_features": (1, {"smooth": 1, "features_or_disk": 2, "star_or_artifact": 3}),
    "edgeon": (2, {"yes": 4, "no": 5}),
    "spiral": (4, {"spiral": 8, "no_spiral": 9}),
    "rounded": (7, {"completely_round": 16, "in_between": 17, "cigar_shaped": 18}),
}


def hart16_column(task: str, answer: str, suffix: Hart16Suffix) -> str:
    """``hart16_column("edgeon", "yes", "fraction") == "t02_edgeon_a04_yes_fraction"``."""
    if suffix not in HART16_SUFFIXES:
        raise ValueError(f"unknown Hart16 suffix {suffix!r}; expected one of {HART16_SUFFIXES}")
    task_number, answers = HART16_TASKS[task]
    return f"t{task_number:02d}_{task}_a{answers[answer]:02d}_{answer}_{suffix}"


def hart16_columns() -> tuple[str, ...]:
    """All columns of the simulated Hart16 table, in the catalogue's order."""
    votes = tuple(hart16_column(task, answer, suffix)
                  for task, (_, answers) in HART16_TASKS.items()
                  for answer in answers for suffix in HART16_SUFFIXES)
    return HART16_META + votes


# --- SDSS DR17: Galaxy Zoo 1 zooNoSpec + Galaxy view ----------------------------------------------
ZOONOSPEC_ID = "objid"
#: Galaxy Zoo 1 answers: elliptical, clockwise / anticlockwise spiral, edge-on or unclear
#: direction, don't know, merger.  They sum to one; p_cs = p_cw + p_acw + p_edge.
ZOONOSPEC_ANSWERS = ("p_el", "p_cw", "p_acw", "p_edge", "p_dk", "p_mg")
ZOONOSPEC_COMBINED_SPIRAL = "p_cs"
ZOONOSPEC_COLUMNS = (("specobjid", "objid", "dr7objid", "ra", "dec", "rastring", "nvote")
                     + ZOONOSPEC_ANSWERS + (ZOONOSPEC_COMBINED_SPIRAL,))
GALAXY_CLEAN = "clean"
ZOONOSPEC_NO_SPECTRUM = 0  # zooNoSpec lists photometric objects: no spectrum, specobjid 0

# --- GZ DECaLS, Walmsley et al. 2022 ---------------------------------------------------------------
DECALS_ID = "iauname"
DECALS_META = ("iauname", "ra", "dec", "petro_th50", "petro_th90")
DECALS_QUESTIONS: dict[str, tuple[str, ...]] = {
    "smooth-or-featured": ("smooth", "featured-or-disk", "artifact"),
    "disk-edge-on": ("yes", "no"),
    "has-spiral-arms": ("yes", "no"),
    "how-rounded": ("round", "in-between", "cigar-shaped"),
}
DecalsSuffix = Literal["count", "fraction", "debiased"]


def decals_column(question: str, answer: str, suffix: DecalsSuffix) -> str:
    """``decals_column("disk-edge-on", "yes", "fraction") == "disk-edge-on_yes_fraction"``.

    The vote count has no suffix in the catalogue: ``decals_column(q, a, "count") == f"{q}_{a}"``.
    """
    if answer not in DECALS_QUESTIONS[question]:
        raise ValueError(f"{answer!r} is not an answer of {question!r}")
    if suffix == "count":
        return f"{question}_{answer}"
    if suffix in ("fraction", "debiased"):
        return f"{question}_{answer}_{suffix}"
    raise ValueError(f"unknown DECaLS suffix {suffix!r}")


def decals_total_column(question: str) -> str:
    """Number of volunteers who answered ``question``."""
    if question not in DECALS_QUESTIONS:
        raise ValueError(f"unknown DECaLS question {question!r}")
    return f"{question}_total-votes"


def decals_columns() -> tuple[str, ...]:
    """All columns of the simulated volunteers_5 table, in the catalogue's order."""
    votes = []
    for question, answers in DECALS_QUESTIONS.items():
        for answer in answers:
            votes += [decals_column(question, answer, s) for s in ("count", "fraction", "debiased")]
        votes.append(decals_total_column(question))
    return DECALS_META + tuple(votes)


# --- identifiers ------------------------------------------------------------------------------------
#: SDSS photometric objID bit layout (SDSS schema browser, PhotoObjAll.objID): field -> (shift, bits).
SDSS_OBJID_BITS = {"sky_version": (59, 4), "rerun": (48, 11), "run": (32, 16), "camcol": (29, 3),
                   "first_field": (28, 1), "field": (16, 12), "obj": (0, 16)}
#: skyVersion and rerun of the two releases whose ids the catalogues carry.
SDSS_DR7_RELEASE = {"sky_version": 1, "rerun": 40}
SDSS_DR8_RELEASE = {"sky_version": 2, "rerun": 301}
#: Ranges (inclusive) of the imaging run, camera column, field and object numbers of SDSS objects.
SDSS_ID_RANGES = {"run": (94, 8162), "camcol": (1, 6), "field": (11, 800), "obj": (1, 2000)}


def sdss_objid(release: dict[str, int], run: int, camcol: int, field: int, obj: int) -> int:
    """Pack an SDSS objID from its parts (``release`` is ``SDSS_DR7_RELEASE`` or ``SDSS_DR8_RELEASE``)."""
    parts = {**release, "run": run, "camcol": camcol, "first_field": 0, "field": field, "obj": obj}
    objid = 0
    for name, (shift, bits) in SDSS_OBJID_BITS.items():
        value = int(parts[name])
        if not 0 <= value < (1 << bits):
            raise ValueError(f"SDSS objID part {name}={value} does not fit in {bits} bits")
        objid |= value << shift
    return objid


def iau_name(ra_deg: float, dec_deg: float) -> str:
    """IAU designation ``JHHMMSS.ss+DDMMSS.s`` (truncated, not rounded, as the convention asks)."""
    ra_cs = int(ra_deg % 360.0 / 15.0 * 3600.0 * 100.0)  # centiseconds of time
    hh, rem = divmod(ra_cs, 3600 * 100)
    mm, cs = divmod(rem, 60 * 100)
    sign = "-" if dec_deg < 0 else "+"
    dec_ds = int(abs(dec_deg) * 3600.0 * 10.0)  # deciseconds of arc
    dd, rem = divmod(dec_ds, 3600 * 10)
    am, ds = divmod(rem, 60 * 10)
    return f"J{hh:02d}{mm:02d}{cs // 100:02d}.{cs % 100:02d}{sign}{dd:02d}{am:02d}{ds // 10:02d}.{ds % 10:d}"


def ra_string(ra_deg: float) -> str:
    """Sexagesimal right ascension ``HH:MM:SS.ss`` as in zooNoSpec's ``rastring``."""
    ra_cs = int(round(ra_deg % 360.0 / 15.0 * 3600.0 * 100.0)) % (24 * 3600 * 100)
    hh, rem = divmod(ra_cs, 3600 * 100)
    mm, cs = divmod(rem, 60 * 100)
    return f"{hh:02d}:{mm:02d}:{cs // 100:02d}.{cs % 100:02d}"


# --- added for the real-survey sources (issue 3) ---------------------------------------------------
#: GZ DECaLS DR1/2 (``gz_decals_volunteers_1_and_2``) names some answers differently from DR5:
#: (question, DR1/2 answer) -> DR5 answer.
DECALS_DR12_ANSWERS: dict[tuple[str, str], str] = {("how-rounded", "completely"): "round"}


def decals_dr12_renames(columns: list[str]) -> dict[str, str]:
    """Column renames that bring DR1/2 answer names to the DR5 names the rules use.

    ``how-rounded_completely_fraction`` -> ``how-rounded_round_fraction`` (and the count and
    debiased columns alike); columns already in DR5 naming are left alone.
    """
    renames = {}
    for (question, old), new in DECALS_DR12_ANSWERS.items():
        prefix = f"{question}_{old}"
        for column in columns:
            if column == prefix or column.startswith(prefix + "_"):
                renames[column] = f"{question}_{new}{column[len(prefix):]}"
    return renames
