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


def model_card(survey: str) -> Path:
    # Beside the model file, written by its own stage (card@<survey>) once evaluate has run.
    return DATA / "train" / survey / "model_card.md"


def checkpoint_file(survey: str) -> Path:
    # Not a DVC output: DVC deletes outputs before rerunning a stage, checkpoints must survive.
    return DATA / "checkpoints" / survey / "last.pt"


def train_live_dir(survey: str) -> Path:
    return METRICS / "train" / survey


def embeddings_dir(survey: str) -> Path:
    return DATA / "embed" / survey


def evaluate_metrics(survey: str) -> Path:
    return METRICS / "evaluate" / f"{survey}.json"


def headline_metrics(survey: str) -> Path:
    """The few numbers `dvc metrics show` prints (the only file declared as metrics): a short path,
    since the table's Path column counts in its width."""
    return METRICS / "headline" / f"{survey}.json"


def cross_embeddings_dir(model: str, target: str) -> Path:
    return DATA / "cross" / f"{model}-{target}"


def cross_scores_file(model: str, target: str) -> Path:
    return DATA / "cross" / f"{model}-{target}.json"


CROSS_SUMMARY = METRICS / "cross_survey.json"
CROSS_HEATMAP = METRICS / "cross_survey.png"


def confusion_file(survey: str) -> Path:
    return METRICS / "evaluate" / f"{survey}_predictions.csv"


# --- analyses (paper Sect. 4.3, 4.5) ----------------------------------------------------------
def cluster_file(survey: str) -> Path:
    """One row per test galaxy: id, label, cluster (1 = the largest cluster)."""
    return DATA / "cluster" / f"{survey}.csv"


def cluster_metrics(survey: str) -> Path:
    return METRICS / "cluster" / f"{survey}.json"


def cluster_plots_dir(survey: str) -> Path:
    """The dendrogram, the cluster sizes and the image grid (paper Figs. 12-14)."""
    return METRICS / "cluster" / survey


def morphology_file(survey: str) -> Path:
    """The Table 4 measures of every test galaxy (with statmorph's flag where it failed)."""
    return DATA / "morphology" / f"{survey}.csv"


def morphology_metrics(survey: str) -> Path:
    return METRICS / "morphology" / f"{survey}.json"


def morphology_plots_dir(survey: str) -> Path:
    return METRICS / "morphology" / survey


def attribution_dir(survey: str) -> Path:
    """Grad-CAM and ViT relevance overlays (paper Fig. 16)."""
    return METRICS / "attribution" / survey


def ablation_dir(survey: str, branch: str) -> Path:
    """The single-branch encoder of the ablation (paper Fig. 6): model.pt and its embeddings."""
    return DATA / "ablation" / survey / branch


def ablation_model_file(survey: str, branch: str) -> Path:
    return ablation_dir(survey, branch) / "model.pt"


def ablation_embeddings_dir(survey: str, branch: str) -> Path:
    return ablation_dir(survey, branch) / "embeddings"


def ablation_checkpoint(survey: str, branch: str) -> Path:
    # Outside the stage's outputs, as checkpoint_file: DVC deletes outputs before a rerun.
    return DATA / "checkpoints" / f"{survey}-{branch}" / "last.pt"


def ablation_live_dir(survey: str, branch: str) -> Path:
    return METRICS / "ablation" / survey / branch


def ablation_metrics(survey: str) -> Path:
    return METRICS / "ablation" / f"{survey}.json"


def ablation_plot(survey: str) -> Path:
    return METRICS / "ablation" / f"{survey}_curves.png"


def label_efficiency_metrics(survey: str) -> Path:
    return METRICS / "label_efficiency" / f"{survey}.json"


def label_efficiency_plot(survey: str) -> Path:
    return METRICS / "label_efficiency" / f"{survey}.png"


def label_efficiency_checkpoints(survey: str) -> Path:
    """Finished supervised runs, one file per subset size: an interrupted stage resumes."""
    return DATA / "checkpoints" / f"label_efficiency-{survey}"


def attribution_galaxies(survey: str) -> Path:
    """Which galaxies attribution_dir's figure shows: id, class, target value."""
    return METRICS / "attribution" / f"{survey}_galaxies.json"


#: The static HTML report of the run (stage ``report``): index.html and one page per survey.
REPORT = Path("report")
