"""Small vote catalogues in the real schemas, with the true class of every galaxy.

Votes are made to pass the paper's Table 1 rules (params.yaml) for the galaxy's class with a
margin, in every fraction variant; galaxies of class ``none`` pass no rule, and some SDSS rows
fail the global filters, so the select stage has something to drop.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.surveys import schemas

HIGH = 0.97  # the answer a class is selected by (the strictest rule asks 0.95)
NONE = "none"
N_VOLUNTEERS = 40

#: Answers voted HIGH for each class: GZ2 (task, answer), DECaLS (question, answer), SDSS column.
GZ2_ANSWERS = {"elliptical": [("smooth_or_features", "smooth"), ("rounded", "in_between")],
               "edge_on": [("smooth_or_features", "features_or_disk"), ("edgeon", "yes")],
               "spiral": [("smooth_or_features", "features_or_disk"), ("edgeon", "no"), ("spiral", "spiral")]}
DECALS_ANSWERS = {"round": [("smooth-or-featured", "smooth"), ("how-rounded", "round")],
                  "elliptical": [("smooth-or-featured", "smooth"), ("how-rounded", "in-between")],
                  "edge_on": [("smooth-or-featured", "featured-or-disk"), ("disk-edge-on", "yes")],
                  "spiral": [("smooth-or-featured", "featured-or-disk"), ("disk-edge-on", "no"),
                             ("has-spiral-arms", "yes")]}
SDSS_ANSWER = {"elliptical": "p_el", "edge_on": "p_edge", "spiral": "p_cw"}
GZ2_CLASS = {"elliptical": "Ei", "edge_on": "Sen", "spiral": "Sc2m", NONE: "A"}
#: A Hart16 task the rules do not read: the catalogue keeps it all the same (a faithful copy).
GZ2_UNUSED = ("t03_bar_a06_bar_fraction", "t03_bar_a07_no_bar_fraction")


@dataclass
class Fixture:
    table: pd.DataFrame  # the catalogue as the server has it
    labels: dict[str, str]  # catalogue id (str) -> true class
    positions: dict[tuple[str, str], str]  # ("%.6f" ra, "%.6f" dec) -> true class


def draw_labels(counts: dict[str, int], rng: np.random.Generator) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Labels in random order and distinct positions in a patch of sky."""
    labels = [cls for cls, n in counts.items() for _ in range(n)]
    rng.shuffle(labels)
    ra = rng.uniform(120, 240, len(labels))
    dec = rng.uniform(-5, 60, len(labels))
    return labels, ra, dec


def fractions(answers: dict[str, tuple[str, ...]], high: list[tuple[str, str]]) -> dict[tuple[str, str], float]:
    """Vote fraction of every (question, answer): HIGH for the chosen answers, the rest shared."""
    chosen = dict(high)
    out = {}
    for question, options in answers.items():
        for option in options:
            if question in chosen:
                out[question, option] = HIGH if chosen[question] == option else (1 - HIGH) / (len(options) - 1)
            else:
                out[question, option] = 1 / len(options)
    return out


def sdss_parts(n: int, rng: np.random.Generator) -> list[tuple[int, int, int, int]]:
    """Distinct (run, camcol, field, obj)."""
    parts = {(int(rng.integers(94, 8162)), int(rng.integers(1, 7)), int(rng.integers(11, 800)), i + 1)
             for i in range(n)}
    return sorted(parts, key=lambda p: p[3])


def fixture(table: pd.DataFrame, ids: list, labels: list[str], ra: np.ndarray, dec: np.ndarray) -> Fixture:
    return Fixture(table, {str(i): label for i, label in zip(ids, labels)},
                   {(f"{a:.6f}", f"{d:.6f}"): label for a, d, label in zip(ra, dec, labels)})


STRIPE82 = "stripe82"
#: Where a galaxy's photometric object lies from its Hart16 position (arcsec: east, north), and
#: an unrelated neighbour (farther than params' match_arcsec, nearer than the test's 5").
OBJECT_OFFSET = (-0.3, 0.1)
NEIGHBOUR_OFFSET = (0.0, 3.0)


def gz2(counts: dict[str, int], rng: np.random.Generator,
        stripe82_share: float = 0.0) -> tuple[Fixture, pd.DataFrame]:
    """The Hart16 table (with its ``sample`` column) and the SkyServer photometry: dr7objid,
    dr8objid, petroR90_r, the object's ra, dec and the galaxy's sample.

    ``stripe82_share`` of the galaxies are ``stripe82`` rows: placed on Stripe 82 (across RA
    0/360, dec within 1.25 deg), their dr7objids are not in PhotoObjDR7 (:func:`gz2_objects` holds
    their photometry by position).  Of the others, every seventh is ``extra``.
    """
    labels, ra, dec = draw_labels(counts, rng)
    n_stripe82 = round(stripe82_share * len(labels))
    samples = [STRIPE82 if i < n_stripe82 else "extra" if i % 7 == 3 else "original" for i in range(len(labels))]
    for i in range(n_stripe82):  # 3 deg apart on both sides of RA 0.00005 (its box wraps at 0/360)
        ra[i] = (0.00005 + 3.0 * ((i + 1) // 2) * (-1) ** i) % 360
        dec[i] = -1.2 + 2.4 * i / max(n_stripe82, 2)
    parts = sdss_parts(len(labels), rng)
    dr7 = [schemas.sdss_objid(schemas.SDSS_DR7_RELEASE, *p) for p in parts]
    dr8 = [schemas.sdss_objid(schemas.SDSS_DR8_RELEASE, *p) for p in parts]
    tasks = {task: tuple(answers) for task, (_, answers) in schemas.HART16_TASKS.items()}
    rows = []
    for objid, label, a, d in zip(dr7, labels, ra, dec):
        row = {schemas.HART16_ID: objid, "ra": a, "dec": d, "gz2_class": GZ2_CLASS[label],
               "total_classifications": N_VOLUNTEERS, "total_votes": 3 * N_VOLUNTEERS}
        for (task, answer), frac in fractions(tasks, GZ2_ANSWERS.get(label, [])).items():
            for suffix in ("fraction", "weighted_fraction", "debiased"):
                row[schemas.hart16_column(task, answer, suffix)] = round(frac, 3)
            row[schemas.hart16_column(task, answer, "count")] = round(frac * N_VOLUNTEERS)
            row[schemas.hart16_column(task, answer, "weight")] = round(frac * N_VOLUNTEERS, 1)
            row[schemas.hart16_column(task, answer, "flag")] = int(frac >= 0.8)
        row.update({column: 0.5 for column in GZ2_UNUSED})
        rows.append(row)
    table = pd.DataFrame(rows, columns=[*schemas.hart16_columns(), *GZ2_UNUSED]).assign(sample=samples)
    object_ra, object_dec = offset(ra, dec, OBJECT_OFFSET)
    photometry = pd.DataFrame({"dr7objid": dr7, "dr8objid": dr8, "petroR90_r": rng.uniform(4, 20, len(dr7)),
                               "ra": object_ra, "dec": object_dec, "sample": samples})
    return fixture(table, dr7, labels, ra, dec), photometry


def offset(ra: np.ndarray, dec: np.ndarray, arcsec: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Positions moved by (east, north) arcsec (small: flat sky), RA kept in [0, 360)."""
    east, north = arcsec
    return (ra + east / 3600 / np.cos(np.radians(dec))) % 360, dec + north / 3600


def gz2_objects(photometry: pd.DataFrame) -> pd.DataFrame:
    """SkyServer's ``PhotoObj`` (objid, ra, dec, petroR90_r): every galaxy's object, and beside
    each a neighbour with another objid and twice the radius."""
    ra, dec = offset(photometry["ra"].to_numpy(), photometry["dec"].to_numpy(),
                     (NEIGHBOUR_OFFSET[0] - OBJECT_OFFSET[0], NEIGHBOUR_OFFSET[1] - OBJECT_OFFSET[1]))
    own = photometry.rename(columns={"dr8objid": "objid"})[["objid", "ra", "dec", "petroR90_r"]]
    neighbours = pd.DataFrame({"objid": photometry["dr8objid"] + 1000, "ra": ra, "dec": dec,
                               "petroR90_r": 2 * photometry["petroR90_r"]})
    return pd.concat([own, neighbours], ignore_index=True)


def decals(counts: dict[str, int], rng: np.random.Generator) -> Fixture:
    """The volunteers_5 table."""
    labels, ra, dec = draw_labels(counts, rng)
    names = [schemas.iau_name(a, d) for a, d in zip(ra, dec)]
    rows = []
    for name, label, a, d in zip(names, labels, ra, dec):
        th50 = float(rng.uniform(2, 8))
        row = {schemas.DECALS_ID: name, "ra": a, "dec": d, "petro_th50": th50, "petro_th90": 2.5 * th50}
        for (question, answer), frac in fractions(schemas.DECALS_QUESTIONS, DECALS_ANSWERS.get(label, [])).items():
            row[schemas.decals_column(question, answer, "count")] = round(frac * N_VOLUNTEERS)
            row[schemas.decals_column(question, answer, "fraction")] = round(frac, 3)
            row[schemas.decals_column(question, answer, "debiased")] = round(frac, 3)
        for question in schemas.DECALS_QUESTIONS:
            row[schemas.decals_total_column(question)] = N_VOLUNTEERS
        rows.append(row)
    return fixture(pd.DataFrame(rows, columns=list(schemas.decals_columns())), names, labels, ra, dec)


#: Above int64 (DR17's specobjids are ``numeric(20)``): read through int64 or float they break.
SDSS_BIG_SPECOBJID = 2 ** 63 + 1234567


def sdss(counts: dict[str, int], rng: np.random.Generator) -> Fixture:
    """zooNoSpec rows plus the Galaxy view's ``clean`` (as one table; :func:`sdss_tables` splits it).

    A tenth of the galaxies fail a global filter (clean = 0 or nvote <= 20).  ``ra``, ``dec`` are
    the float64 positions (Galaxy's); every third galaxy has a spectrum, with a specobjid above
    :data:`SDSS_BIG_SPECOBJID` (ids as text: SQLite's integers stop at int64).
    """
    labels, ra, dec = draw_labels(counts, rng)
    parts = sdss_parts(len(labels), rng)
    rows = []
    for i, (p, label, a, d) in enumerate(zip(parts, labels, ra, dec)):
        answer = SDSS_ANSWER.get(label)
        if answer == "p_cw" and i % 2:
            answer = "p_acw"  # spirals of both windings: the rule's two alternatives
        others = (1 - HIGH) / 5 if answer else 1 / 6
        probs = {p_: HIGH if p_ == answer else others for p_ in schemas.ZOONOSPEC_ANSWERS}
        specobjid = SDSS_BIG_SPECOBJID + i if i % 3 == 1 else schemas.ZOONOSPEC_NO_SPECTRUM
        rows.append({"specobjid": str(specobjid),
                     schemas.ZOONOSPEC_ID: schemas.sdss_objid(schemas.SDSS_DR8_RELEASE, *p),
                     "dr7objid": schemas.sdss_objid(schemas.SDSS_DR7_RELEASE, *p),
                     "ra": a, "dec": d, "rastring": schemas.ra_string(a),
                     "nvote": 10 if i % 10 == 3 else 30, **probs,
                     schemas.ZOONOSPEC_COMBINED_SPIRAL: probs["p_cw"] + probs["p_acw"] + probs["p_edge"],
                     schemas.GALAXY_CLEAN: 0 if i % 10 == 7 else 1})
    return fixture(pd.DataFrame(rows), [r[schemas.ZOONOSPEC_ID] for r in rows], labels, ra, dec)


def float32_text(values: pd.Series) -> pd.Series:
    """``values`` as SkyServer prints a ``real`` (float32) column: 7 significant digits."""
    return values.map(lambda v: float(f"{np.float32(v):.7g}"))


def sdss_tables(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``sdss`` fixture table as SkyServer holds it: zooNoSpec (positions ``real``, float32)
    and the Galaxy view (objid, float64 ``ra``, ``dec``, ``clean``)."""
    zoo = table.drop(columns=[schemas.GALAXY_CLEAN]).assign(ra=float32_text(table["ra"]),
                                                            dec=float32_text(table["dec"]))
    galaxy = table[[schemas.ZOONOSPEC_ID, "ra", "dec", schemas.GALAXY_CLEAN]]
    return zoo, galaxy
