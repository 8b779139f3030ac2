"""Stage `morphology@<survey>`: the six measures of paper Table 4 for every test galaxy (Sect. 4.5.2).

``survey.<name>.morphology.source``: ``statmorph`` measures the survey's own native images
(pipeline/morphology.py), ``pawlikmorph`` reads SkyServer's PawlikMorph table (pipeline/pawlikmorph.py,
SDSS only, as the paper).  Per galaxy, so a new clustering never measures them again.
"""
from __future__ import annotations

from pipeline import paths, pawlikmorph, prepare
from pipeline.morphology import measure_files
from pipeline.params import Params, Survey
from pipeline.surveys.base import IMAGES_DIR, read_source_info
from stages.common import survey_stage


def run(name: str, survey: Survey, params: Params) -> None:
    index = prepare.load(paths.prepared_dir(name)).index
    test = index[index["split"] == "test"].assign(id=lambda d: d["id"].astype(str))
    if survey.morphology.source == "pawlikmorph":
        table = pawlikmorph.measures(name, survey.source, test[["id", "ra", "dec"]], params.morphology.pawlikmorph)
    else:
        suffix = read_source_info(paths.images_dir(name))["image_suffix"]  # as the images stage wrote them
        image_dir = paths.images_dir(name) / IMAGES_DIR
        table = measure_files({gid: image_dir / f"{gid}{suffix}" for gid in test["id"]}, params.morphology,
                              f"morphology {name}")
    out = paths.morphology_file(name)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False, float_format="%.6g")
    failed = table["error"].fillna("").astype(bool)
    print(f"{name}: {survey.morphology.source} measured {int((~failed).sum())} of {len(table)} test galaxies"
          + (f"; {int(failed.sum())} failed, e.g. {table.loc[failed, 'id'].iloc[0]}: "
             f"{table.loc[failed, 'error'].iloc[0]}" if failed.any() else ""))


def main(argv: list[str] | None = None) -> None:
    survey_stage(__doc__, run, argv)


if __name__ == "__main__":
    main()
