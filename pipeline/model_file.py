"""The trained model as one self-describing file: weights plus everything needed to use them.

A model written by `train` is used outside the pipeline (the ``galaxy-contrastive`` command) with
no ``params.yaml``: the file holds the encoder widths, the input geometry (paper Sect. 2.3,
Fig. 2), the training split's normalisation, the class names, the seed, the data digest, the
survey's colour mapping (for FITS input) and the project version that wrote it.

Safety: the file is read with ``torch.load(weights_only=True)``, which unpickles only tensors and
plain containers, never arbitrary objects; the metadata is a JSON string inside it.  A SHA-256
digest over that JSON and every tensor's bytes is stored too, so an edited weight or field is
refused rather than silently used.
"""
from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import asdict, dataclass, fields
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from pipeline.config import parse
from pipeline.errors import InputError
from pipeline.model.encoder import FusionEncoder
from pipeline.params import Image, Model

#: What the file says it is; a torch file without it is foreign.
FORMAT = "galaxy-contrastive model"
#: Bumped whenever a reader of the previous layout would misread the new one.
FORMAT_VERSION = 1
PACKAGE = "galaxy-contrastive"


class ModelFileError(InputError):
    """A model file that is missing, foreign, tampered with or from an incompatible version."""


def project_version() -> str:
    """The installed package's version (pyproject.toml is the one place it is written)."""
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


@dataclass(frozen=True)
class ModelInfo:
    """Everything about a trained encoder that using it requires, or a reader wants to know."""

    survey: str
    model_name: str
    model: dict[str, Any]            # encoder widths: the models.<name> block
    geometry: dict[str, int]         # native_size, centre_crop, crop, input_size
    mean: tuple[float, float, float]  # training split's channel statistics, [0, 1] units
    std: tuple[float, float, float]
    classes: tuple[str, ...]
    seed: int
    data_digest: str
    project_version: str
    train: dict[str, Any]            # the survey's train block
    colour: dict[str, Any] | None    # the survey's colour mapping (pipeline/colour.py), for FITS

    def image(self) -> Image:
        """The input geometry as the params dataclass the preprocessing code takes."""
        return Image(native_size=self.geometry["native_size"], centre_crop=self.geometry["centre_crop"],
                     crop=self.geometry["crop"], input_size=self.geometry["input_size"], max_corrupt_fraction=1.0)

    def encoder_config(self) -> Model:
        return parse(Model, self.model, f"models.{self.model_name}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, path: str) -> ModelInfo:
        data = json.loads(text)
        names = {f.name for f in fields(cls)}
        if set(data) != names:
            raise ModelFileError(f"{path}: metadata fields {sorted(set(data) ^ names)} missing or unknown")
        return cls(**{**data, "mean": tuple(data["mean"]), "std": tuple(data["std"]),
                      "classes": tuple(data["classes"])})


def geometry_of(image: Image) -> dict[str, int]:
    return {"native_size": image.native_size, "centre_crop": image.centre_crop, "crop": image.crop,
            "input_size": image.input_size}


def _digest(info_json: str, state: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256(info_json.encode())
    for key in sorted(state):
        tensor = state[key].detach().cpu().contiguous()
        h.update(key.encode())
        h.update(str(tensor.dtype).encode())
        h.update(str(tuple(tensor.shape)).encode())
        h.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_model(path: Path, model: FusionEncoder, info: ModelInfo) -> None:
    """Write ``model``'s weights with ``info``; the file appears only when complete."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    info_json = info.to_json()
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "info": info_json, "state_dict": state,
               "digest": _digest(info_json, state)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def _read(path: Path) -> tuple[ModelInfo, dict[str, torch.Tensor]]:
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{path}: not a galaxy-contrastive model file, or damaged ({first})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        hint = (" (a model saved before models were self-describing: rerun `dvc repro` to retrain it)"
                if isinstance(payload, dict) and "model_cfg" in payload else "")
        raise ModelFileError(f"{path}: not a galaxy-contrastive model file{hint}")
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        raise ModelFileError(
            f"{path}: model file format {version} but this galaxy-contrastive ({project_version()}) reads format "
            f"{FORMAT_VERSION}: " + ("upgrade the package" if newer else "retrain the model with this version"))
    info_json, state = payload.get("info"), payload.get("state_dict")
    if not isinstance(info_json, str) or not isinstance(state, dict):
        raise ModelFileError(f"{path}: model file lacks its metadata or weights")
    if payload.get("digest") != _digest(info_json, state):
        raise ModelFileError(f"{path}: content digest does not match: the file was modified after training")
    try:
        info = ModelInfo.from_json(info_json, str(path))
    except (json.JSONDecodeError, TypeError, KeyError) as exc:
        raise ModelFileError(f"{path}: unreadable metadata ({exc})") from None
    return info, state


def read_info(path: Path | str) -> ModelInfo:
    """The metadata of a model file (checked like :func:`load_model`, weights not built)."""
    return _read(Path(path))[0]


def load_model(path: Path | str, device: torch.device | str = "cpu") -> tuple[FusionEncoder, ModelInfo]:
    """The encoder of a model file, in eval mode on ``device``, with its metadata."""
    path = Path(path)
    info, state = _read(path)
    model = FusionEncoder(info.encoder_config(), info.geometry["input_size"])
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelFileError(f"{path}: weights do not fit the encoder its metadata describes ({exc})") from None
    return model.to(device).eval(), info
