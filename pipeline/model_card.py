"""The model card: a Markdown page beside a trained model saying what it is and how good it is.

It states the survey and its selection (paper Table 1 thresholds, the counts they gave), the input
geometry and normalisation, the training settings, and the evaluation of `evaluate` (paper
Table 3's kNN accuracies, NMI and ARI, with the two baselines), so a model file passed on to a
colleague carries its own description.
"""
from __future__ import annotations

from typing import Any

from pipeline.model_file import ModelInfo


def _table(rows: list[tuple[Any, ...]], header: tuple[str, ...]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def _rule_text(alternatives: list[dict[str, float]], suffix: str) -> str:
    return " OR ".join(" AND ".join(f"`{col}{suffix}` >= {thr}" for col, thr in alt.items()) for alt in alternatives)


def _pct(value: float) -> str:
    return f"{value:.1f}%"


def render_card(info: ModelInfo, model_path: str, selection: dict[str, Any], select_report: dict[str, Any],
                evaluation: dict[str, Any], headline_k: int) -> str:
    """The card's Markdown.  ``selection`` is the survey's selection params block,
    ``select_report`` what `select` measured, ``evaluation`` the `evaluate` stage's detail metrics."""
    g = info.geometry
    out = [f"# Model card: {info.survey}", "",
           f"Contrastive galaxy-morphology encoder (Wei et al. 2022), `{info.model_name}` widths, trained "
           f"without labels on the {info.survey} survey; file `{model_path}`, written by galaxy-contrastive "
           f"{info.project_version}.", "",
           "## Data and selection", "",
           f"Classes: {', '.join(info.classes)}. Galaxies were selected from volunteer vote fractions "
           f"(paper Table 1): {select_report.get('n_selected', '?')} of {select_report.get('n_catalogue', '?')} "
           "catalogue rows.", ""]
    counts = select_report.get("counts", {})
    out += _table([(cls, _rule_text(selection["rules"][cls], selection.get("suffix", "")), counts.get(cls, "?"))
                   for cls in info.classes], ("class", "rule", "galaxies"))
    out += ["", f"Split (seeded, stratified): {evaluation.get('n_train', '?')} train, {evaluation.get('n_val', '?')} "
            f"val, {evaluation.get('n_test', '?')} test. Data digest `{info.data_digest}`.", "",
            "## Input", "",
            f"A {g['native_size']} px cutout is centre-cropped to {g['centre_crop']} px; the network sees the "
            f"centred {g['crop']} px window resized to {g['input_size']} px (paper Fig. 2). Channels are "
            f"normalised with the training split's mean {_fmt(info.mean)} and standard deviation {_fmt(info.std)}.",
            ""]
    if info.colour:
        out += [f"FITS cutouts are mapped to RGB with this colour recipe: `{info.colour}`.", ""]
    out += ["## Training", ""]
    out += _table([(key, value) for key, value in sorted(info.train.items())] + [("seed", info.seed)],
                  ("setting", "value"))
    out += ["", "## Evaluation (test split)", "",
            "kNN accuracy on the projection against the training split as the bank (paper Table 3), with "
            "an untrained encoder and raw pixels as baselines:", ""]
    knn = evaluation.get("knn", {})
    base = evaluation.get("baseline", {})
    rows = [(k.lstrip("k"), _pct(knn[k]), _pct(base.get("random_init", {}).get(k, float("nan"))),
             _pct(base.get("pixels", {}).get(k, float("nan")))) for k in knn]
    out += _table(rows, ("k", "contrastive", "random init", "pixels"))
    out += ["", f"Agreement of the kNN predictions at k = {headline_k} with the volunteer classes: "
            f"NMI {evaluation.get('nmi', float('nan')):.3f}, ARI {evaluation.get('ari', float('nan')):.3f}.", ""]
    recall = evaluation.get("recall", {})
    if recall:
        out += ["Recall per class: " + ", ".join(f"{cls} {_pct(v)}" for cls, v in recall.items()) + ".", ""]
    out += ["## Use", "", "```", f"galaxy-contrastive embed {model_path} CUTOUTS/ -o vectors.parquet",
            "galaxy-contrastive similar vectors.parquet GALAXY_ID -k 20 --grid similar.html",
            "galaxy-contrastive oddities vectors.parquet -n 50 --grid oddities.html", "```", ""]
    return "\n".join(out)


def _fmt(values: tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{v:.4f}" for v in values) + ")"
