"""Build the whole report: a page per survey, then the index, written beside the final folder
and renamed into place, so an interrupted build never leaves a half-written report."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from pipeline import paths
from pipeline.embeddings import load_embeddings
from pipeline.params import Params
from pipeline.prepare import load as load_prepared
from pipeline.report import html
from pipeline.report.figures import confusion_png, curves_png
from pipeline.report.galleries import Thumbnails, misclassified, neighbour_galleries


def build(params: Params, out: Path = paths.REPORT) -> None:
    """Write the report of ``params.surveys`` to ``out`` (replacing the previous one)."""
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for survey in params.surveys:
        (tmp / f"{survey}.html").write_text(survey_page(survey, params, tmp / survey))
    (tmp / "index.html").write_text(index_page(params, tmp))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)


def index_page(params: Params, site: Path) -> str:
    """The surveys with their headline kNN accuracy, and the cross-survey matrix (paper Fig. 11)."""
    scores = {s: json.loads(paths.evaluate_metrics(s).read_text()) for s in params.surveys}
    ks = list(scores[params.surveys[0]]["knn"])  # evaluate.ks: the same for every survey
    rows = [([s] + [html.number(m["knn"].get(k)) for k in ks] + [html.number(m["nmi"], 3), html.number(m["ari"], 3)], "")
            for s, m in scores.items()]
    links = "<ul>" + "".join(f"<li>{html.link(f'{s}.html', s)}</li>" for s in params.surveys) + "</ul>"
    shutil.copyfile(paths.CROSS_HEATMAP, site / paths.CROSS_HEATMAP.name)
    body = [html.heading("Surveys"), links,
            html.para("kNN accuracy (%) on the test split, the train split as the labelled bank."),
            html.table(["survey"] + ks + ["NMI", "ARI"], rows),
            html.heading("Cross-survey transfer (paper Fig. 11)"), _cross_table(paths.CROSS_SUMMARY),
            html.image(paths.CROSS_HEATMAP.name, "cross-survey kNN accuracy matrix")]
    return html.page("Galaxy morphology by contrastive learning: report", body)


def _cross_table(path: Path) -> str:
    """Rows: the model's survey; columns: the target (subsets included); cells: kNN accuracy (%)."""
    matrix = json.loads(path.read_text())
    targets = list(next(iter(matrix.values())))
    rows = [([f"M-{model}"] + [html.number(scores[t]["knn"]) for t in targets], "")
            for model, scores in matrix.items()]
    return html.table(["model \\ target"] + targets, rows)


def survey_page(survey: str, params: Params, folder: Path) -> str:
    """One survey: metrics beside the paper's Table 3, confusion, curves, galleries, analyses, card."""
    folder.mkdir(parents=True)
    prepared = load_prepared(paths.prepared_dir(survey))
    index = prepared.index
    classes = list(index.drop_duplicates("label_id").sort_values("label_id")["label"])
    rel = folder.name  # the page sits beside its survey's folder
    thumbs = Thumbnails(prepared.images, dict(zip(index["id"].astype(str), index["row"])), folder,
                        params.report.thumbnail_px)
    predictions = pd.read_csv(paths.confusion_file(survey), dtype=str)
    confusion_png(predictions["actual"].to_numpy(), predictions["predicted"].to_numpy(), classes,
                  f"{survey}: test split, kNN", folder / "confusion.png")
    tsvs = sorted((paths.train_live_dir(survey) / "plots" / "metrics").glob("*.tsv"))
    curves_png(tsvs, f"{survey}: training (validation kNN, NMI, ARI per epoch)", folder / "curves.png")
    emb = load_embeddings(paths.embeddings_dir(survey))
    body = [html.para(f"{len(index)} galaxies, classes: {', '.join(classes)}."),
            html.link("index.html", "back to the index"),
            html.heading("kNN accuracy beside the paper's Table 3"), metrics_table(survey, params),
            html.heading("Confusion matrix"), html.image(f"{rel}/confusion.png", "confusion matrix"),
            html.heading("Training curves"), html.image(f"{rel}/curves.png", "training curves"),
            html.heading("Misclassified test galaxies (paper Fig. 9)"),
            misclassified(predictions, params.report.max_misclassified, thumbs),
            html.heading(f"Nearest neighbours ({params.evaluate.representation}, cosine similarity)"),
            neighbour_galleries(emb["id"], emb["label"], emb["split"], emb[params.evaluate.representation],
                                classes, params.report.neighbour_queries, params.report.neighbours,
                                thumbs)]
    body += analyses(survey, params, folder)
    card = paths.model_card(survey)
    if card.exists():
        body += [html.heading("Model card"), html.preformatted(card.read_text())]
    return html.page(f"Survey {survey}", body)


def metrics_table(survey: str, params: Params) -> str:
    """Our kNN accuracies (both protocols) and the paper's rows for the datasets this survey
    stands for, on the union of the k values."""
    m = json.loads(paths.evaluate_metrics(survey).read_text())
    papers = [p for p in params.report.paper.values() if survey in p.surveys]
    ks = sorted({*m["knn"], *(k for p in papers for k in p.knn)}, key=lambda k: int(k[1:]))
    rows = [([f"{survey} (ours)", "standard"] + [html.number(m["knn"].get(k)) for k in ks]
             + [html.number(m["nmi"], 3), html.number(m["ari"], 3)], ""),
            ([f"{survey} (ours)", "leave-one-out"] + [html.number(m["knn_loo"].get(k)) for k in ks]
             + [html.number(m["nmi_loo"], 3), html.number(m["ari_loo"], 3)], "")]
    rows += [([f"{p.name} (paper)", "standard"] + [html.number(p.knn.get(k), 2) for k in ks] + ["", ""], "paper")
             for p in papers]
    return html.table(["dataset", "protocol"] + ks + ["NMI", "ARI"], rows)


def analyses(survey: str, params: Params, folder: Path) -> list[str]:
    """The analysis stages' figures that exist for this survey, copied beside the page.

    The ablation and label-efficiency stages run only for the surveys listed in their params,
    so their (possibly stale) files are shown only then."""
    sources = [("cluster", "Clustering (paper Figs. 12-14)", paths.cluster_plots_dir(survey)),
               ("morphology", "Morphology of the clusters (paper Fig. 15)", paths.morphology_plots_dir(survey)),
               ("attribution", "Where the encoder looks (paper Fig. 16)", paths.attribution_dir(survey))]
    if survey in params.ablation.surveys:
        sources.append(("ablation", "Encoder ablation (paper Fig. 6)", paths.ablation_plot(survey)))
    if survey in params.label_efficiency.surveys:
        sources.append(("label_efficiency", "Contrastive vs supervised (paper Fig. 7)",
                        paths.label_efficiency_plot(survey)))
    parts = []
    for key, title, source in sources:
        pngs = sorted(source.glob("*.png")) if source.is_dir() else [source] if source.exists() else []
        if not pngs:
            continue
        parts.append(html.heading(title, 3))
        for png in pngs:
            name = f"{key}_{png.name}"  # one folder for all analyses: their file names may repeat
            shutil.copyfile(png, folder / name)
            parts.append(html.image(f"{folder.name}/{name}", f"{title}: {png.stem}"))
    return [html.heading("Analyses")] + parts if parts else []
