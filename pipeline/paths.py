"""Where each stage reads and writes, per survey: the one place for every path."""
from __future__ import annotations

from pathlib import Path

DATA = Path("data")
METRICS = Path("metrics")
#: Inside a survey's images folder: one row per selected galaxy (pipeline/download/manifest.py).
MANIFEST_FILE = "manifest.csv"


def shared_dir(survey: str) -> Path:
    return DATA / "shared" / survey


def catalogue_dir(survey: str) -> Path:
    return DATA / "catalogue" / survey


def selected_file(survey: str) -> Path:
    return DATA / "select" / f"{survey}.parquet"


def select_metrics(survey: str) -> Path:
    return METRICS / "select" / f"{survey}.json"


def images_dir(survey: str) -> Path:
    return DATA / "images" / survey


def prepared_dir(survey: str) -> Path:
    return DATA / "prepared" / survey


def prepare_report(survey: str) -> Path:
    return METRICS / "prepare" / f"{survey}.json"


def model_file(survey: str) -> Path:
    return DATA / "train" / survey / "model.pt"


def checkpoint_file(survey: str) -> Path:
    # Not a DVC output: DVC deletes outputs before rerunning a stage, checkpoints must survive.
    return DATA / "checkpoints" / survey / "last.pt"


def train_live_dir(survey: str) -> Path:
    return METRICS / "train" / survey


def embeddings_file(survey: str) -> Path:
    return DATA / "embed" / f"{survey}.npz"


def evaluate_metrics(survey: str) -> Path:
    return METRICS / "evaluate" / f"{survey}.json"


def cross_embeddings_file(model: str, target: str) -> Path:
    return DATA / "cross" / f"{model}-{target}.npz"


def cross_scores_file(model: str, target: str) -> Path:
    return DATA / "cross" / f"{model}-{target}.json"


CROSS_SUMMARY = METRICS / "cross_survey.json"
CROSS_HEATMAP = METRICS / "cross_survey.png"


def confusion_file(survey: str) -> Path:
    return METRICS / "evaluate" / f"{survey}_predictions.csv"
