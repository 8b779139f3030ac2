"""A user's own survey: a CSV of labels (or votes) and a folder of images."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from pipeline.config import ConfigError
from pipeline.download.errors import TooManyFailures
from pipeline.params import Survey
from pipeline.selection import select
from pipeline.surveys import get_source
from pipeline.surveys.local import LocalSource
from tests.mirror.drawings import galaxy_image
from tests.mirror.fixtures import real_survey

SIZE = 424
LABELS = ["elliptical", "edge_on", "spiral"]


def local_block(tmp_path: Path, **changes) -> dict:
    return {"kind": "local", "catalogue": str(tmp_path / "labels.csv"), "id_column": "name", "ra_column": "ra",
            "dec_column": "dec", "label_column": "class", "label_aliases": {}, "images": str(tmp_path / "jpegs"),
            "image_pattern": "{id}.jpg", "concurrency": 2, "max_failed_fraction": 0.2, "max_trailing_bytes": 0,
            **changes}


def make_folder(tmp_path: Path, n: int = 12, size: int = SIZE) -> pd.DataFrame:
    table = pd.DataFrame({"name": [f"gal{i:03d}" for i in range(n)], "ra": 150.0 + 0.01 * pd.RangeIndex(n),
                          "dec": 2.0, "class": [LABELS[i % 3] for i in range(n)]})
    table.to_csv(tmp_path / "labels.csv", index=False)
    (tmp_path / "jpegs").mkdir()
    for row in table.itertuples():
        (tmp_path / "jpegs" / f"{row.name}.jpg").write_bytes(galaxy_image(row._4, size, row.Index))
    return table


def survey_with(block: dict) -> Survey:
    return real_survey("local_example", block)


def test_labels_become_rule_columns_and_images_are_copied(tmp_path):
    table = make_folder(tmp_path)
    (tmp_path / "jpegs" / "gal004.jpg").unlink()
    (tmp_path / "jpegs" / "gal005.jpg").write_bytes(galaxy_image("spiral", 100, 5))
    survey = survey_with(local_block(tmp_path))
    source = get_source("local_example", survey, 0)
    catalogue = source.fetch_catalogue(tmp_path)
    assert catalogue[[f"label_is_{c}" for c in LABELS]].sum().tolist() == [4, 4, 4]
    result = select(catalogue, survey.selection, list(survey.classes), id_column="name", survey="local_example")
    assert result.selected.set_index("id")["label"].to_dict() == dict(zip(table["name"], table["class"]))
    manifest = source.fetch_images(result.selected, tmp_path, tmp_path / "out").set_index("id")
    assert manifest.loc["gal004", "reason"].startswith("no image file")
    assert manifest.loc["gal005", "reason"] == f"size 100x100, expected {SIZE}x{SIZE}"
    copied = tmp_path / "out" / "images" / "gal000.jpg"
    assert copied.read_bytes() == (tmp_path / "jpegs" / "gal000.jpg").read_bytes() and not copied.is_symlink()


def test_vote_columns_from_parquet_without_positions(tmp_path):
    table = make_folder(tmp_path, n=6)
    table["p_round"] = [0.9, 0.1, 0.2] * 2
    table.drop(columns=["ra", "dec"]).to_parquet(tmp_path / "votes.parquet")
    block = local_block(tmp_path, catalogue=str(tmp_path / "votes.parquet"), ra_column=None, dec_column=None,
                        label_column=None)
    catalogue = get_source("local_example", survey_with(block), 0).fetch_catalogue(tmp_path)
    assert catalogue["ra"].isna().all() and "label_is_spiral" not in catalogue.columns
    assert catalogue["p_round"].tolist() == table["p_round"].tolist()


@pytest.mark.parametrize("changes, message", [
    ({"image_pattern": "{name}.jpg"}, r"image_pattern: '\{name\}.jpg' must hold the placeholder \{id\}"),
    ({"image_pattern": "{id}.fits"}, r"image_pattern: '\{id\}.fits' must end in one of"),
    ({"catalogue": "labels.txt"}, r"catalogue: 'labels.txt' must end in one of \['.csv', '.parquet'\]"),
    ({"id_column": "objid"}, r"id_column: .*labels.csv has no column 'objid'"),
])
def test_bad_settings_name_their_key(tmp_path, changes, message):
    make_folder(tmp_path, n=3)
    with pytest.raises(ConfigError, match=r"survey.local_example.source.*" + message):
        get_source("local_example", survey_with(local_block(tmp_path, **changes)), 0).fetch_catalogue(tmp_path)


def copy_images(tmp_path: Path) -> pd.DataFrame:
    """The images stage's part for the survey of ``local_block(tmp_path)``: select, then copy."""
    survey = survey_with(local_block(tmp_path))
    source = get_source("local_example", survey, 0)
    catalogue = source.fetch_catalogue(tmp_path)
    selected = select(catalogue, survey.selection, list(survey.classes), id_column="name",
                      survey="local_example").selected
    return source.fetch_images(selected, tmp_path, tmp_path / "out")


def test_images_of_another_size_name_the_size_key_and_the_size_found(tmp_path):
    make_folder(tmp_path, size=423)
    for i in (0, 1):  # two of the right size: copied, and kept when the stage fails
        (tmp_path / "jpegs" / f"gal00{i}.jpg").write_bytes(galaxy_image("spiral", SIZE, i))
    key = "survey.local_example.image.native_size"
    with pytest.raises(ConfigError, match=(
            rf"^10 of 12 images in {re.escape(str(tmp_path / 'jpegs'))} are 423x423 but {key} is {SIZE}: set {key}: 423; "
            rf"2 are {SIZE}x{SIZE}: every image must have the same size \(see .*manifest.csv\)$")):
        copy_images(tmp_path)
    assert sorted(p.name for p in (tmp_path / "out" / "images").iterdir()) == ["gal000.jpg", "gal001.jpg"]
    manifest = pd.read_csv(tmp_path / "out" / "manifest.csv").set_index("id")
    assert manifest.loc["gal002", "reason"] == f"size 423x423, expected {SIZE}x{SIZE}"


def test_images_of_several_other_sizes_are_listed(tmp_path):
    make_folder(tmp_path, size=256)
    for i, (width, height) in enumerate([(512, 512), (512, 512), (424, 400)]):
        (tmp_path / "jpegs" / f"gal00{i}.jpg").write_bytes(galaxy_image("spiral", width, i, height=height))
    with pytest.raises(ConfigError, match=(
            rf"^12 of 12 images in .*jpegs are not {SIZE}x{SIZE} as survey.local_example.image.native_size "
            r"says but 256x256 \(9\), 512x512 \(2\), 424x400 \(1\): bring every image to one square size")):
        copy_images(tmp_path)


def test_a_few_images_of_another_size_among_other_failures_are_files_to_fix(tmp_path):
    make_folder(tmp_path)
    for i in range(5):
        (tmp_path / "jpegs" / f"gal00{i}.jpg").unlink()
    (tmp_path / "jpegs" / "gal005.jpg").write_bytes(galaxy_image("spiral", 423, 5))
    with pytest.raises(TooManyFailures, match="6 of 12 files failed .*: 5 no image file, 1 size 423x423"):
        copy_images(tmp_path)


def test_an_id_that_climbs_out_of_the_folder_is_refused(tmp_path):
    make_folder(tmp_path, n=3)
    source = LocalSource("local_example", local_block(tmp_path), 0, survey=survey_with(local_block(tmp_path)))
    selected = pd.DataFrame({"id": ["../../etc/passwd"], "label": ["spiral"], "ra": [0.0], "dec": [0.0]})
    # One failed manifest row (here 1 of 1: too many), not an exception while the jobs are built.
    with pytest.raises(TooManyFailures, match=r"^1 of 1 files failed .*: 1 id is not a plain file name; see "):
        source.fetch_images(selected, tmp_path, tmp_path / "out")
    manifest = pd.read_csv(tmp_path / "out" / "manifest.csv")
    assert manifest["reason"].tolist() == ["id is not a plain file name: '../../etc/passwd'"]


def write_csv(tmp_path: Path, rows: list[str]) -> None:
    """labels.csv exactly as a user typed it (no pandas quoting or formatting in between)."""
    (tmp_path / "labels.csv").write_text("name,ra,dec,class\n" + "".join(f"{row}\n" for row in rows))


def test_ids_are_kept_as_written_from_the_csv_to_the_image_files(tmp_path):
    ids = ["007", "7", "1e5", "1.2e5", "00123", "NA"]  # 7 and 007 are two galaxies
    write_csv(tmp_path, [f"{i},150.0,2.0,{LABELS[k % 3]}" for k, i in enumerate(ids)])
    (tmp_path / "jpegs").mkdir()
    for k, i in enumerate(ids):
        (tmp_path / "jpegs" / f"{i}.jpg").write_bytes(galaxy_image(LABELS[k % 3], SIZE, k))
    manifest = copy_images(tmp_path)
    assert manifest["id"].astype(str).tolist() == ids and (manifest["status"] == "ok").all()
    assert sorted(p.name for p in (tmp_path / "out" / "images").iterdir()) == sorted(f"{i}.jpg" for i in ids)


def test_parquet_ids_of_integers_become_their_digits_and_floats_are_refused(tmp_path):
    make_folder(tmp_path, n=3)
    block = local_block(tmp_path, catalogue=str(tmp_path / "votes.parquet"))
    table = pd.DataFrame({"name": [1237648720693755918, 7, 123], "ra": 0.0, "dec": 0.0, "class": LABELS})
    table.to_parquet(tmp_path / "votes.parquet")
    catalogue = get_source("local_example", survey_with(block), 0).fetch_catalogue(tmp_path)
    assert catalogue["name"].tolist() == ["1237648720693755918", "7", "123"]
    table.astype({"name": float}).to_parquet(tmp_path / "votes.parquet")
    with pytest.raises(ConfigError, match=r"^survey.local_example.source.id_column: column 'name' of "
                                          r".*votes.parquet holds floating-point numbers"):
        get_source("local_example", survey_with(block), 0).fetch_catalogue(tmp_path)


@pytest.mark.parametrize("rows, message", [
    (["007,1,2,spiral", ",1,2,spiral", "8,1,2,spiral", " ,1,2,spiral"],
     r"labels.csv line 3 has an empty id in column 'name' \(1 more rows too\)"),
    (["007,1,2,spiral", "7,1,2,spiral", "8,1,2,spiral", "007,1,2,spiral"],
     r"id '007' of column 'name' appears twice in .*labels.csv: line 2 and line 5$"),
])
def test_empty_or_repeated_ids_name_the_line(tmp_path, rows, message):
    write_csv(tmp_path, rows)
    with pytest.raises(ConfigError, match=r"^survey.local_example.source.id_column: .*" + message):
        get_source("local_example", survey_with(local_block(tmp_path)), 0).fetch_catalogue(tmp_path)


def test_labels_that_are_not_classes_are_listed_with_their_counts(tmp_path):
    table = make_folder(tmp_path)
    table["class"] = table["class"].replace({"spiral": "Spiral"})
    table.loc[0, "class"] = "ellip"
    table.to_csv(tmp_path / "labels.csv", index=False)
    with pytest.raises(ConfigError, match=(
            r"^survey.local_example.source.label_column: column 'class' of .*labels.csv holds labels that are "
            r"not classes of survey local_example \['elliptical', 'edge_on', 'spiral'\]: 'Spiral' \(4\), "
            r"'ellip' \(1\); correct them or map them to classes with survey.local_example.source.label_aliases, "
            r"e.g. \{Spiral: spiral\}$")):
        get_source("local_example", survey_with(local_block(tmp_path)), 0).fetch_catalogue(tmp_path)


@pytest.mark.parametrize("aliases", [
    {"Spiral": "spiral"},
    {"0": "elliptical", "1": "edge_on", "2": "spiral"},  # codes: read as text, not as 0.0, 1.0, 2.0
])
def test_label_aliases_map_labels_to_classes_and_empty_labels_are_counted_unlabelled(tmp_path, caplog, aliases):
    table = make_folder(tmp_path)
    table["class"] = table["class"].replace({cls: label for label, cls in aliases.items()})
    table.loc[0, "class"] = None  # an elliptical without a label
    table.to_csv(tmp_path / "labels.csv", index=False)
    survey = survey_with(local_block(tmp_path, label_aliases=aliases))
    catalogue = get_source("local_example", survey, 0).fetch_catalogue(tmp_path)
    columns = [f"label_is_{c}" for c in LABELS]
    assert catalogue[columns].sum().tolist() == [3, 4, 4] and catalogue[columns].isna().sum().tolist() == [1, 1, 1]
    assert "local_example: 1 of 12 galaxies have no label in column 'class'" in caplog.text
    result = select(catalogue, survey.selection, LABELS, id_column="name", survey="local_example")
    assert result.counts == {"elliptical": 3, "edge_on": 4, "spiral": 4} and result.n_no_class == 1
    assert result.nan_by_column == dict.fromkeys(columns, 1)


def test_an_alias_to_no_class_names_its_key(tmp_path):
    block = local_block(tmp_path, label_aliases={"Sp": "spirl"})
    with pytest.raises(ConfigError, match=r"^survey.local_example.source.label_aliases.Sp: 'spirl' is not one "
                                          r"of the survey's classes \['elliptical', 'edge_on', 'spiral'\]$"):
        get_source("local_example", survey_with(block), 0)
