"""How much the simulated surveys' images look like real SDSS cutouts (issue 7's statistics).

Reads the images the pipeline rendered (`data/images/<survey>/images/`, after `make repro`) and
their selection labels (`data/select/<survey>.parquet`), measures every image with
`pipeline.realism.image_statistics`, and writes the p10 / p50 / p90 over images, per class for
the centre red/blue ratio, to `benchmarks/results/sim_realism.json`; it prints them beside the
real cutouts' values with the targets each survey misses, and draws a sample of each class
(`benchmarks/results/sim_realism.png`).

    python benchmarks/sim_realism.py [--surveys sim_gz2 sim_sdss sim_decals] [--check] [--markdown]

With --check it exits 1 when sim_gz2 or sim_sdss misses a target (sim_decals has no real
DECaLS cutouts to compare with, and sim_sdss's fixed 0.2"/px geometry changes its fraction of
pixels above 5 sigma legitimately).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline import paths, realism  # noqa: E402
from pipeline.params import load_params  # noqa: E402
from pipeline.surveys.base import IMAGES_DIR  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
#: The simulated surveys whose targets are the real SDSS cutouts (issue 7); sim_decals has none.
CHECKED = ("sim_gz2", "sim_sdss")
TILE, PER_CLASS_SHOWN, LABEL_WIDTH = 128, 8, 90


def measure(name: str) -> tuple[dict, int, dict[str, list[np.ndarray]]]:
    """Summary statistics of a survey's rendered images, their number, and a few of each class."""
    selected_file, images = ROOT / paths.selected_file(name), ROOT / paths.images_dir(name) / IMAGES_DIR
    if not selected_file.exists() or not images.is_dir():
        sys.exit(f"error: no rendered images of {name} in {images}: run `make repro` "
                 f"(or `dvc repro images@{name}`) first")
    selected = pd.read_parquet(selected_file)
    files = {path.stem: path for path in images.iterdir() if ".partial-" not in path.name}
    stats, labels, shown = [], [], {}
    for galaxy_id, label in zip(selected["id"].astype(str), selected["label"]):
        if galaxy_id not in files:
            continue  # failed to render: the manifest says why
        rgb = np.asarray(Image.open(files[galaxy_id]).convert("RGB"))
        stats.append(realism.image_statistics(rgb))
        labels.append(label)
        if len(shown.setdefault(label, [])) < PER_CLASS_SHOWN:
            shown[label].append(np.asarray(Image.fromarray(rgb).resize((TILE, TILE), Image.Resampling.BILINEAR)))
    if not stats:
        sys.exit(f"error: none of the {len(selected)} selected galaxies of {name} has an image in {images}")
    return realism.summarise(stats, labels), len(stats), shown


def montage(samples: dict[str, dict[str, list[np.ndarray]]], out: Path) -> None:
    """One row per (survey, class): the first images of that class, as the pipeline stores them."""
    rows = []
    for name, by_class in samples.items():
        for label, tiles in sorted(by_class.items()):
            tiles = tiles + [np.zeros((TILE, TILE, 3), np.uint8)] * (PER_CLASS_SHOWN - len(tiles))
            caption = Image.new("RGB", (LABEL_WIDTH, TILE), "white")
            ImageDraw.Draw(caption).text((6, TILE // 2 - 12), f"{name}\n{label}", fill="black")
            rows.append(np.concatenate([np.asarray(caption)] + tiles, axis=1))
    Image.fromarray(np.concatenate(rows, axis=0)).save(out)


def report(name: str, summary: dict, n_images: int, galaxy_scaled: bool) -> list[str]:
    """Print a survey's percentiles beside the real ones; return the targets it misses."""
    print(f"\n{name} ({n_images} images)")
    print(f"  {'statistic':<20} {'sim p10 / p50 / p90':>24}   {'real p10 / p50 / p90':>22}")
    for stat in realism.STATISTICS:
        if stat == "centre_red_blue":
            continue
        sim, real = summary[stat], realism.REAL_SDSS[stat]
        print(f"  {stat:<20} {sim['p10']:>7} / {sim['p50']:>6} / {sim['p90']:>6}"
              f"   {real['p10']:>6} / {real['p50']:>5} / {real['p90']:>5}")
    for label, sim in summary["centre_red_blue"].items():
        real = realism.REAL_SDSS["centre_red_blue"].get(label, {}).get("p50", "-")
        print(f"  red/blue {label:<11} {sim['p10']:>7} / {sim['p50']:>6} / {sim['p90']:>6}   p50 {real:>5}")
    if name not in CHECKED:
        return []
    failures = realism.target_failures(summary, fraction_above=galaxy_scaled)
    print("  targets: " + ("all met" if not failures else "MISSED: " + "; ".join(failures)))
    return failures


def markdown(results: dict[str, dict]) -> str:
    """The README's table: each survey's p50 beside the real p10 / p50 / p90."""
    names = list(results)
    lines = ["| statistic (0-255) | real SDSS p10 / p50 / p90 | " + " | ".join(f"{n} p50" for n in names) + " |",
             "|---|---|" + "---|" * len(names)]
    for stat in realism.STATISTICS:
        if stat == "centre_red_blue":
            continue
        real = realism.REAL_SDSS[stat]
        lines.append(f"| {stat} | {real['p10']} / {real['p50']} / {real['p90']} | "
                     + " | ".join(str(results[n][stat]["p50"]) for n in names) + " |")
    for label, real in realism.REAL_SDSS["centre_red_blue"].items():
        lines.append(f"| centre_red_blue {label} | p50 {real['p50']} | "
                     + " | ".join(str(results[n]["centre_red_blue"].get(label, {}).get("p50", "-")) for n in names) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    params = load_params(ROOT / "params.yaml")
    simulated = [name for name, block in params.survey.items() if block.source["kind"] == "sim"]
    parser.add_argument("--surveys", nargs="+", default=simulated, choices=simulated)
    parser.add_argument("--check", action="store_true", help="exit 1 if sim_gz2 or sim_sdss misses a target")
    parser.add_argument("--markdown", action="store_true", help="also print the README's table")
    args = parser.parse_args()
    results, samples, failures = {}, {}, []
    for name in args.surveys:
        results[name], n_images, samples[name] = measure(name)
        # Fixed-scale cutouts (SDSS's 0.2"/px) fill the frame differently: no fraction target.
        galaxy_scaled = params.survey[name].source["image"]["pixel_scale"]["fixed_arcsec"] is None
        failures += report(name, results[name], n_images, galaxy_scaled)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sim_realism.json").write_text(json.dumps(results, indent=1) + "\n")
    montage(samples, RESULTS / "sim_realism.png")
    print(f"\nwrote {RESULTS / 'sim_realism.json'} and {RESULTS / 'sim_realism.png'}")
    if args.markdown:
        print("\n" + markdown(results))
    if args.check and failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
