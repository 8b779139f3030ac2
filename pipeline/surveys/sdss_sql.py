"""The SDSS DR17 catalogue query: Galaxy Zoo 1 ``zooNoSpec`` joined with the ``Galaxy`` view.

The query is fixed: the zooNoSpec columns (DESIGN sect. 2) and the Galaxy view's ``clean``, every
row, paged by objid.  ``ra``, ``dec`` are the Galaxy view's (float64): zooNoSpec's are ``real``
(float32, about 7 digits, up to ~0.36" off, 2 px of a 0.2"/px cutout), so they are not fetched;
every other column is zooNoSpec's as the server has it, so the catalogue stays a faithful copy.
The query never depends on the selection: Table 1 (``p_el``, ``p_edge``, ``p_cw`` or ``p_acw``
>= 0.8; filters ``clean = 1`` and ``nvote > 20``) is applied locally by the select stage, so
editing a threshold never re-downloads the catalogue.  The selection is only checked here, before
any request: each rule or filter must name a column the query fetches (the reference SQL named
columns that do not exist, p_spiralclock / p_spiralanticlock) and each number must be finite and
in that column's range.
"""
from __future__ import annotations

from pipeline.download.columns import check_terms
from pipeline.params import Selection
from pipeline.surveys import schemas

ZOO, GALAXY = "z", "g"  # table aliases
#: The columns fetched, with their table alias; ``ra``, ``dec`` (the cutouts' positions) are
#: Galaxy's float64 ones, in zooNoSpec's column order.
SELECTED: dict[str, str] = {**dict.fromkeys(schemas.ZOONOSPEC_COLUMNS, ZOO), "ra": GALAXY, "dec": GALAXY,
                            schemas.GALAXY_CLEAN: GALAXY}
#: Columns a rule or filter may compare, with their legal range.
COMPARABLE: dict[str, tuple[float, float]] = {
    **{p: (0.0, 1.0) for p in (*schemas.ZOONOSPEC_ANSWERS, schemas.ZOONOSPEC_COMBINED_SPIRAL)},
    "nvote": (0.0, float("inf")),
    "ra": (0.0, 360.0),
    "dec": (-90.0, 90.0),
    schemas.GALAXY_CLEAN: (0.0, 1.0),
}
CATALOGUE = "zooNoSpec x Galaxy"


def check_selection(selection: Selection, path: str) -> None:
    """Raise :class:`ConfigError` (naming the params key) for a column the query does not fetch
    or a number out of its column's range."""
    check_terms(selection, path, lambda c: c in COMPARABLE, lambda c: COMPARABLE[c], CATALOGUE)


def page_sql(rows: int, after: int | None) -> str:
    """``rows`` rows of the whole table with ``objid > after`` (the first page when None),
    ordered by objid; no other condition."""
    columns = ", ".join(f"{alias}.{column}" for column, alias in SELECTED.items())
    where = "" if after is None else f"WHERE {ZOO}.{schemas.ZOONOSPEC_ID} > {int(after)} "
    return (f"SELECT TOP {int(rows)} {columns} "
            f"FROM zooNoSpec AS {ZOO} JOIN Galaxy AS {GALAXY} ON {GALAXY}.objid = {ZOO}.objid "
            f"{where}ORDER BY {ZOO}.{schemas.ZOONOSPEC_ID}")
