"""``galaxy-contrastive embed MODEL INPUT -o OUT.parquet``: representations of your own images.

INPUT is a folder (searched recursively for JPEG, PNG and FITS files; id = file name less the
suffix) or a catalogue (CSV or parquet) with an id column and a path column or ``ra``/``dec``
columns (:mod:`pipeline.inputs`).  Each image is prepared exactly as the pipeline prepares the
survey's images (:func:`pipeline.imaging.load_rgb`, :func:`pipeline.imaging.to_stored`, the
training split's normalisation from the model file) and embedded by
:func:`pipeline.embed.embed_images`, so the survey's own images give the ``embed`` stage's vectors.

Positions are fetched as the survey's images stage fetches them (SkyServer ``getjpeg``,
:meth:`pipeline.surveys.sdss.SdssSource.cutout_jobs`) into ``OUT.cutouts/``; cutouts already
there are kept.  The cutout settings are the survey's block of the project's params.yaml.

Inputs that cannot be used are listed in ``OUT.rejected.csv`` (id, path, reason) and summarised
on stderr; only when none is usable does the command fail.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import sys
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd
import torch
from PIL import Image as PILImage

from pipeline import inputs, progress
from pipeline.cli.vectors import write_vectors
from pipeline.config import parse, read_params
from pipeline.distributed import pick_device
from pipeline.download.fetch import FetchJob, fetch_all
from pipeline.download.images import Refused
from pipeline.download.validate import WRONG_SIZE
from pipeline.embed import embed_images
from pipeline.errors import InputError
from pipeline.imaging import CorruptImage, load_rgb, to_stored
from pipeline.inputs import Item, Rejected
from pipeline.model_file import ModelInfo, load_model
from pipeline.params import Image, Survey

REJECTED_COLUMNS = ("id", "path", "reason")


class EmbedError(InputError):
    """Nothing to embed, or ra/dec inputs whose cutout service cannot be set up."""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("embed", help="embed a folder or catalogue of images with a trained model",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", type=Path, help="model file written by the train stage (data/train/<survey>/model.pt)")
    p.add_argument("input", type=Path,
                   help="folder of .jpg/.png/.fits images (searched recursively), or a .csv/.parquet catalogue")
    p.add_argument("-o", "--output", type=Path, required=True, help="embeddings file to write (.parquet)")
    p.add_argument("--batch-size", type=int, default=256, help="images per forward pass (default 256)")
    p.add_argument("--chunk-images", type=int, default=4096,
                   help="images decoded and held in memory at a time (default 4096)")
    p.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: cuda when available")
    p.add_argument("--resize", action="store_true",
                   help="resample images of another size to the model's native size (default: reject them)")
    p.add_argument("--id-column", default="id", help="catalogue column of galaxy ids (default id)")
    p.add_argument("--path-column", default="path",
                   help="catalogue column of image paths, relative to the catalogue's folder (default path)")
    p.add_argument("--params", type=Path, default=Path("params.yaml"),
                   help="ra/dec input: the project's params file holding the survey's cutout settings")
    p.add_argument("--cutout-survey", default=None,
                   help="ra/dec input: the params survey whose cutout service to use (default: the model's "
                        "survey; a simulated SDSS-like survey can name sdss)")
    p.add_argument("--cutout-url", default=None,
                   help="ra/dec input: SkyServer base URL replacing the params value (a mirror)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for name in ("batch_size", "chunk_images"):
        if getattr(args, name) < 1:
            raise EmbedError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise EmbedError("--device cuda: this machine's torch sees no CUDA GPU (use --device cpu)")
    device = torch.device(args.device) if args.device else pick_device()
    model, info = load_model(args.model, device)
    items, rejected = inputs.collect(args.input, args.id_column, args.path_column)
    if any(item.file is None for item in items):
        items, refused = fetch_cutouts(items, info, args)
        rejected += refused
    ids: list[str] = []
    paths: list[str] = []
    backbone: list[np.ndarray] = []
    projection: list[np.ndarray] = []
    image = info.image()
    n_inputs = len(items) + len(rejected)
    with progress.progress(total=len(items), desc="embed", unit="image") as bar:
        for chunk in _chunks(items, args.chunk_images):
            stored, kept = [], []
            for item in chunk:
                try:
                    stored.append(to_stored(read_rgb(item, image, info, args.resize), image))
                    kept.append(item)
                except CorruptImage as exc:
                    rejected.append(Rejected(item.id, item.path, str(exc)))
                bar.update()
            if kept:
                b, p = embed_images(model, np.stack(stored), image.input_size, info.mean, info.std,
                                    args.batch_size, device)
                backbone.append(b)
                projection.append(p)
                ids += [item.id for item in kept]
                paths += [item.path for item in kept]
    rejected_file = rejected_path(args.output)
    write_rejected(rejected_file, rejected)
    # The one hint worth giving: the reason of a wrong-size image says what was expected.
    hint = "; --resize resamples images of another size" if any(WRONG_SIZE.search(r.reason) for r in rejected) else ""
    if not ids:
        raise EmbedError(f"{args.input}: no usable image among {n_inputs} inputs "
                         f"(reasons in {rejected_file}{hint})")
    meta = {"model": str(args.model), "survey": info.survey, "model_digest": file_digest(args.model)}
    write_vectors(args.output, ids, paths, np.concatenate(backbone), np.concatenate(projection), meta)
    print(f"embedded {len(ids)} images into {args.output}", file=sys.stderr)
    if rejected:
        print(f"{len(rejected)} inputs rejected (listed in {rejected_file}), e.g. "
              f"{rejected[0].id or rejected[0].path}: {rejected[0].reason}{hint}", file=sys.stderr)
    return 0


def read_rgb(item: Item, image: Image, info: ModelInfo, resize: bool) -> np.ndarray:
    """The item's RGB array at the model's native size; :class:`CorruptImage` says why not."""
    assert item.file is not None
    native = (image.native_size, image.native_size)
    if item.is_fits:
        rgb = read_fits(item.file, info)
    elif not resize:
        return load_rgb(item.file, image)
    else:
        try:
            with PILImage.open(item.file) as img:
                img.load()
                rgb = np.asarray(img.convert("RGB"))
        except FileNotFoundError:
            raise CorruptImage(f"{item.file}: file missing") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise CorruptImage(f"{item.file}: does not decode as an image ({exc})") from None
    if rgb.shape[:2] == native:
        return rgb
    if not resize:
        raise CorruptImage(f"{item.file}: size {rgb.shape[1]}x{rgb.shape[0]}, expected {native[0]}x{native[1]}")
    # LANCZOS, as to_stored: antialiased when shrinking a larger cutout.
    return np.asarray(PILImage.fromarray(rgb).resize(native, PILImage.Resampling.LANCZOS))


def read_fits(path: Path, info: ModelInfo) -> np.ndarray:
    """A FITS cutout as the survey's RGB (the colour mapping the model file holds)."""
    if info.colour is None:
        raise CorruptImage(f"{path}: the model file has no colour mapping for FITS input (survey {info.survey})")
    from pipeline.fits_rgb import read_fits_rgb  # astropy loads only when there is FITS input

    if not path.is_file():
        raise CorruptImage(f"{path}: file missing")
    try:
        return read_fits_rgb(path, info.colour)
    except InputError as exc:  # its message names the file already
        raise CorruptImage(str(exc)) from None
    except (OSError, ValueError) as exc:
        raise CorruptImage(f"{path}: unreadable FITS ({exc})") from None


def fetch_cutouts(items: list[Item], info: ModelInfo, args: argparse.Namespace) -> tuple[list[Item], list[Rejected]]:
    """Items with a position become items with their fetched cutout (in ``OUT.cutouts/``)."""
    positions = [item for item in items if item.file is None]
    source = cutout_source(info, args, len(positions))
    folder = cutouts_dir(args.output)
    jobs = source.cutout_jobs(pd.DataFrame({"id": [i.id for i in positions], "ra": [i.ra for i in positions],
                                            "dec": [i.dec for i in positions]}), folder)
    folder.mkdir(parents=True, exist_ok=True)
    refused = {job.id: job.reason for job in jobs if isinstance(job, Refused)}
    fetchable = [job for job in jobs if isinstance(job, FetchJob)]
    dest = {job.id: job.dest for job in fetchable}
    manifest = fetch_all(fetchable, source.cfg.images.fetch.concurrency, "cutouts")
    failed = manifest[manifest["status"] != "ok"]
    refused.update(zip(failed["id"], failed["reason"]))
    kept: list[Item] = []
    rejected: list[Rejected] = []
    for item in items:
        if item.file is not None:
            kept.append(item)
        elif item.id in refused:
            rejected.append(Rejected(item.id, item.path, f"cutout not fetched: {refused[item.id]}"))
        else:
            kept.append(Item(item.id, str(dest[item.id]), file=dest[item.id], ra=item.ra, dec=item.dec))
    return kept, rejected


def cutout_source(info: ModelInfo, args: argparse.Namespace, n_positions: int):
    """The SDSS source of the params survey whose cutout service fetches ra/dec inputs."""
    from pipeline.surveys.sdss import SdssSource  # the download stack loads only for ra/dec input

    name = args.cutout_survey or info.survey
    what = f"{n_positions} inputs are ra/dec positions"
    if not args.params.is_file():
        raise EmbedError(f"{what}: their cutouts are fetched with survey {name}'s settings in the project's "
                         f"params.yaml, not found at {args.params}: pass --params PATH")
    block = read_params(args.params).get("survey", {}).get(name)
    if block is None:
        raise EmbedError(f"{args.params}: no survey.{name} for the cutouts of {what} (pass --cutout-survey NAME)")
    block = copy.deepcopy(block)
    kind = block.get("source", {}).get("kind")
    if kind != "sdss":
        raise EmbedError(f"{args.params}: survey.{name}.source.kind is {kind!r}: ra/dec cutouts come from "
                         f"SkyServer (kind sdss) only; pass --cutout-survey with such a survey, or image paths")
    if args.cutout_url:
        block["source"]["skyserver"] = args.cutout_url.rstrip("/")
    return SdssSource(name, block["source"], 0, survey=parse(Survey, block, f"survey.{name}"))


def rejected_path(output: Path) -> Path:
    return output.with_name(output.stem + ".rejected.csv")


def cutouts_dir(output: Path) -> Path:
    return output.with_name(output.stem + ".cutouts")


def write_rejected(path: Path, rejected: Sequence[Rejected]) -> None:
    """``OUT.rejected.csv``, written even when empty so that no stale list survives a rerun."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pd.DataFrame([(r.id, r.path, r.reason) for r in rejected], columns=list(REJECTED_COLUMNS)).to_csv(tmp, index=False)
    tmp.replace(path)


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _chunks(items: list[Item], size: int) -> Iterator[list[Item]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
