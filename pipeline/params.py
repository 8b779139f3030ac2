"""The project's params.yaml as typed, validated dataclasses (one section per concern).

Paper values (Wei et al. 2022) live in params.yaml, never here: these classes only say which
keys exist, what type they hold and which ranges are legal.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pipeline.config import ConfigError, check_fraction, check_positive, parse, read_params, require

Op = Literal[">=", ">", "==", "<=", "<"]


@dataclass(frozen=True)
class Filter:
    """A global catalogue condition, e.g. SDSS ``clean == 1`` and ``nvote > 20`` (DESIGN sect. 1)."""

    column: str
    op: Op
    value: float


@dataclass(frozen=True)
class Selection:
    """Vote-fraction threshold rules (paper Table 1).

    ``rules[class]`` is a list of alternatives (OR); each alternative maps column -> threshold,
    all of which must hold with ``>=`` (AND).  ``suffix`` is appended to every rule column, so
    the GZ2 fraction variant (``_fraction``, ``_weighted_fraction``, ``_debiased``) is one param.
    Rows with a rule column outside [0, 1] are dropped and reported; more than
    ``max_invalid_fraction`` of the catalogue is an error (a broken or mis-mapped catalogue).
    """

    rules: dict[str, list[dict[str, float]]]
    max_invalid_fraction: float
    suffix: str = ""
    filters: list[Filter] = field(default_factory=tuple)

    def validate(self, path: str) -> None:
        check_fraction(self.max_invalid_fraction, f"{path}.max_invalid_fraction")
        for cls, alternatives in self.rules.items():
            require(len(alternatives) > 0, f"{path}.rules.{cls}", "needs at least one alternative")
            for i, alt in enumerate(alternatives):
                require(len(alt) > 0, f"{path}.rules.{cls}.{i}", "an alternative needs a column")
                for column, threshold in alt.items():
                    check_fraction(threshold, f"{path}.rules.{cls}.{i}.{column}")


@dataclass(frozen=True)
class Image:
    """Image geometry (paper Sect. 2.3, Fig. 2).

    The native ``native_size`` image is centre-cropped to ``centre_crop``; the network sees a
    ``crop`` window of it (random at train time, centred at eval) resized to ``input_size``.  The
    prepared array stores the centre crop already scaled by ``input_size / crop``.

    (Not ``size``: DVC's run-cache ignores every params key named ``size`` or ``nfiles``, so a
    change of it would silently reuse the previous outputs; treeverse/dvc issue 10296.)
    """

    native_size: int
    centre_crop: int
    crop: int
    input_size: int
    max_corrupt_fraction: float

    def validate(self, path: str) -> None:
        require(0 < self.crop <= self.centre_crop <= self.native_size, path,
                f"need 0 < crop ({self.crop}) <= centre_crop ({self.centre_crop}) "
                f"<= native_size ({self.native_size})")
        check_positive(self.input_size, f"{path}.input_size")
        check_fraction(self.max_corrupt_fraction, f"{path}.max_corrupt_fraction")

    @property
    def stored_size(self) -> int:
        """Side of the prepared (stored) image: the centre crop at the network's pixel scale."""
        return round(self.centre_crop * self.input_size / self.crop)


@dataclass(frozen=True)
class Split:
    """Random, seeded, stratified train/val/test fractions (paper Sect. 4.1: 80/10/10)."""

    train: float
    val: float
    test: float

    def validate(self, path: str) -> None:
        for name in ("train", "val", "test"):
            check_fraction(getattr(self, name), f"{path}.{name}", open_low=True)
        total = self.train + self.val + self.test
        require(abs(total - 1) < 1e-9, path, f"train + val + test must be 1, got {total}")


@dataclass(frozen=True)
class Train:
    """Contrastive pretraining (paper Sect. 4.1)."""

    model: str  # a key of ``models``
    augment: str  # a key of ``augment``: the named set of augmentation strengths
    epochs: int
    batch_size: int
    lr: float
    lr_final_factor: float
    momentum: float
    weight_decay: float
    temperature: float
    threads: int
    devices: int = 1        # processes (one GPU each) of one run; more than 1 runs under torchrun
    nodes: int = 1          # machines, each with ``devices`` processes
    compile: bool = False   # torch.compile the encoder (GPU runs; a compile costs minutes up front)

    def validate(self, path: str) -> None:
        for name in ("epochs", "batch_size", "lr", "temperature", "threads", "devices", "nodes"):
            check_positive(getattr(self, name), f"{path}.{name}")
        require(self.batch_size % (self.devices * self.nodes) == 0, f"{path}.batch_size",
                f"{self.batch_size} must divide evenly over devices x nodes = {self.devices * self.nodes}")
        require(self.batch_size >= 2, f"{path}.batch_size", "needs at least 2 images for negatives")
        check_fraction(self.lr_final_factor, f"{path}.lr_final_factor")
        check_fraction(self.momentum, f"{path}.momentum")
        require(self.weight_decay >= 0, f"{path}.weight_decay", "must be >= 0")


@dataclass(frozen=True)
class Survey:
    """One survey: its source, the selection rules, geometry, split and training settings."""

    classes: list[str]
    source: dict[str, Any]
    selection: Selection
    image: Image
    split: Split
    train: Train
    cluster: SurveyCluster
    morphology: SurveyMorphology

    def validate(self, path: str) -> None:
        require(len(self.classes) >= 2, f"{path}.classes", "needs at least two classes")
        require(len(set(self.classes)) == len(self.classes), f"{path}.classes", "has duplicates")
        for cls in self.selection.rules:
            require(cls in self.classes, f"{path}.selection.rules.{cls}",
                    f"is not one of the survey's classes {list(self.classes)}")
        for cls in self.classes:
            require(cls in self.selection.rules, f"{path}.selection.rules",
                    f"has no rule for class {cls!r}")
        require("kind" in self.source, f"{path}.source.kind", "missing key")


@dataclass(frozen=True)
class Jitter:
    brightness: float
    contrast: float
    saturation: float
    hue: float

    def validate(self, path: str) -> None:
        for name in ("brightness", "contrast", "saturation"):
            require(getattr(self, name) >= 0, f"{path}.{name}", "must be >= 0")
        require(0 <= self.hue <= 0.5, f"{path}.hue", f"{self.hue} must lie in [0, 0.5]")


@dataclass(frozen=True)
class Augment:
    """Two-view augmentations (paper Sect. 3.2; probabilities of the reference code)."""

    flip_p: float
    crop_scale_min: float
    rotation_degrees: float
    jitter: Jitter
    jitter_p: float
    grayscale_p: float

    def validate(self, path: str) -> None:
        check_fraction(self.flip_p, f"{path}.flip_p")
        check_fraction(self.crop_scale_min, f"{path}.crop_scale_min", open_low=True)
        check_fraction(self.jitter_p, f"{path}.jitter_p")
        check_fraction(self.grayscale_p, f"{path}.grayscale_p")
        require(0 <= self.rotation_degrees <= 360, f"{path}.rotation_degrees", "must lie in [0, 360]")


Branches = Literal["fusion", "cnn", "vit"]


@dataclass(frozen=True)
class Model:
    """Encoder widths (paper Fig. 5, Table 2) and which branches it has.

    ``branches``: ``fusion`` (the paper's encoder, CNN and ViT concatenated), or one branch
    alone, ``cnn`` or ``vit`` (the CL_Res18 / CL_ViT encoders of the ablation, paper Fig. 6).
    The default keeps checkpoints saved before the key existed loadable.
    """

    stem_channels: int
    stem_kernel: int
    stem_padding: int
    cnn_channels: list[int]
    vit_patch: int
    vit_dim: int
    vit_depth: int
    vit_heads: int
    vit_mlp_dim: int
    branch_dim: int
    projector_hidden: int
    projection_dim: int
    branches: Branches = "fusion"

    def validate(self, path: str) -> None:
        for name, value in vars(self).items():
            if isinstance(value, int) and name != "stem_padding":
                check_positive(value, f"{path}.{name}")
        require(len(self.cnn_channels) >= 1, f"{path}.cnn_channels", "needs at least one stage")
        require(self.vit_dim % self.vit_heads == 0, f"{path}.vit_heads",
                f"vit_dim {self.vit_dim} is not divisible by {self.vit_heads} heads")


@dataclass(frozen=True)
class Io:
    """How much of the prepared images is held in host memory (pipeline/chunks.py)."""

    chunk_images: int  # prepared images read at a time (one more chunk is prefetched)

    def validate(self, path: str) -> None:
        check_positive(self.chunk_images, f"{path}.chunk_images")


@dataclass(frozen=True)
class Evaluate:
    """kNN / NMI / ARI evaluation (paper Sect. 4.2-4.3)."""

    ks: list[int]
    k: int
    representation: Literal["backbone", "projection"]
    pixel_baseline_size: int
    batch_size: int

    def validate(self, path: str) -> None:
        for i, k in enumerate(self.ks):
            check_positive(k, f"{path}.ks.{i}")
        require(self.k in self.ks, f"{path}.k", f"{self.k} must be one of ks {list(self.ks)}")
        check_positive(self.pixel_baseline_size, f"{path}.pixel_baseline_size")
        check_positive(self.batch_size, f"{path}.batch_size")


@dataclass(frozen=True)
class KnnIvf:
    """faiss IndexIVFFlat: ``nlist`` inverted lists (0 = a rule from the bank size,
    pipeline/knn.py), ``nprobe`` of them searched per query, the coarse quantizer trained by
    spherical k-means on ``train_per_list`` seeded bank items per list."""

    nlist: int
    nprobe: int
    train_per_list: int

    def validate(self, path: str) -> None:
        require(self.nlist >= 0, f"{path}.nlist", f"{self.nlist} must be >= 0 (0: from the bank size)")
        check_positive(self.nprobe, f"{path}.nprobe")
        # faiss's k-means warns below 39 points per centroid: the lists come out badly balanced
        require(self.train_per_list >= 39, f"{path}.train_per_list", f"{self.train_per_list} must be at least 39")


@dataclass(frozen=True)
class KnnHnsw:
    """faiss IndexHNSWFlat: ``m`` graph neighbours per node, ``ef_construction`` and
    ``ef_search`` candidates kept while building and searching."""

    m: int
    ef_construction: int
    ef_search: int

    def validate(self, path: str) -> None:
        for name in ("m", "ef_construction", "ef_search"):
            check_positive(getattr(self, name), f"{path}.{name}")


@dataclass(frozen=True)
class Knn:
    """kNN search at scale (issue 11): exact up to ``approx_above`` bank items, above that the
    approximate ``index``, its recall@k against the exact search measured on ``recall_sample``
    queries; queries are searched ``query_chunk`` at a time."""

    approx_above: int
    index: Literal["ivf", "hnsw"]
    ivf: KnnIvf
    hnsw: KnnHnsw
    recall_sample: int
    query_chunk: int

    def validate(self, path: str) -> None:
        require(self.approx_above >= 0, f"{path}.approx_above", f"{self.approx_above} must be >= 0")
        check_positive(self.recall_sample, f"{path}.recall_sample")
        check_positive(self.query_chunk, f"{path}.query_chunk")


@dataclass(frozen=True)
class Cross:
    """Cross-survey transfer (paper Sect. 4.4, Fig. 11)."""

    k: int
    representation: Literal["backbone", "projection"]
    subsets: dict[str, dict[str, list[str]]]   # target survey -> subset name -> classes

    def validate(self, path: str) -> None:
        check_positive(self.k, f"{path}.k")
        for target, subsets in self.subsets.items():
            for name, classes in subsets.items():
                require(len(classes) >= 2, f"{path}.subsets.{target}.{name}", "needs at least two classes")


@dataclass(frozen=True)
class Cluster:
    """Hierarchical clustering of a survey's test-split representations (paper Sect. 4.5.1).

    SciPy's ``linkage`` with ``method``/``metric``, cut at the survey's own
    ``survey.<name>.cluster.threshold`` (the paper: 3.3 on GZ2, 1.0 on SDSS).
    """

    representation: Literal["backbone", "projection"]
    linkage: Literal["ward", "single", "complete", "average", "weighted", "centroid", "median"]
    metric: str
    grid_galaxies: int        # sample galaxies drawn per cluster in the image grid (Figs. 13-14)
    grid_max_clusters: int    # the largest clusters shown in the grid
    dendrogram_leaves: int    # a larger tree is drawn truncated to its last merges, this many leaves

    def validate(self, path: str) -> None:
        check_positive(self.grid_galaxies, f"{path}.grid_galaxies")
        check_positive(self.grid_max_clusters, f"{path}.grid_max_clusters")
        require(self.dendrogram_leaves >= 2, f"{path}.dendrogram_leaves", f"{self.dendrogram_leaves} must be at least 2")
        require(self.linkage not in ("ward", "centroid", "median") or self.metric == "euclidean",
                f"{path}.metric", f"linkage {self.linkage!r} needs metric 'euclidean', not {self.metric!r}")


@dataclass(frozen=True)
class SurveyCluster:
    """Per-survey clustering cut: the distance threshold (paper Fig. 12's dotted line)."""

    threshold: float

    def validate(self, path: str) -> None:
        check_positive(self.threshold, f"{path}.threshold")


@dataclass(frozen=True)
class PawlikMorphMatch:
    """How test galaxies find their row of SkyServer's PawlikMorph table (pipeline/pawlikmorph.py).

    The table has no SDSS objid (it is keyed by MaNGA's ``plateifu``): a galaxy is matched by
    position, to the MaNGA target position of ``mangaDrpAll`` within ``match_arcsec``.
    """

    match_arcsec: float

    def validate(self, path: str) -> None:
        check_positive(self.match_arcsec, f"{path}.match_arcsec")


@dataclass(frozen=True)
class Morphology:
    """The six measures of paper Table 4 per test galaxy (Sect. 4.5.2): statmorph on the galaxy's
    own image (segmentation by photutils), or SDSS's PawlikMorph table.

    statmorph (pipeline/morphology.py): an image larger than ``max_size_px`` is block-averaged by
    the smallest integer factor that brings it within; the sky is the sigma-clipped median of the
    outer ``sky_border_fraction`` of each side; photutils detects pixels ``detect_nsigma`` sky
    sigmas above it (``detect_npixels`` connected at least, after a Gaussian of ``smooth_fwhm_px``)
    and deblends with ``deblend_contrast``; a galaxy whose statmorph ``flag`` or ``flag_sersic``
    is above ``max_flag`` (0 good, 1 suspect, 2 bad, 4 catastrophic) counts as failed.
    """

    n_workers: int
    max_size_px: int
    sky_border_fraction: float
    detect_nsigma: float
    detect_npixels: int
    smooth_fwhm_px: float
    deblend_contrast: float
    max_flag: int
    pawlikmorph: PawlikMorphMatch

    def validate(self, path: str) -> None:
        for name in ("n_workers", "max_size_px", "detect_nsigma", "detect_npixels", "smooth_fwhm_px"):
            check_positive(getattr(self, name), f"{path}.{name}")
        require(self.max_size_px >= 32, f"{path}.max_size_px", f"{self.max_size_px} is too small to fit a profile (>= 32)")
        require(0 < self.sky_border_fraction <= 0.25, f"{path}.sky_border_fraction",
                f"{self.sky_border_fraction} must lie in (0, 0.25]")
        check_fraction(self.deblend_contrast, f"{path}.deblend_contrast")
        require(self.max_flag >= 0, f"{path}.max_flag", f"{self.max_flag} must be >= 0")


@dataclass(frozen=True)
class SurveyMorphology:
    """Per survey: where the measures come from, and the two clusters of the Fig. 15 histograms
    (numbered by size, 1 = the largest)."""

    source: Literal["statmorph", "pawlikmorph"]
    compare_clusters: list[int]

    def validate(self, path: str) -> None:
        require(len(self.compare_clusters) == 2 and self.compare_clusters[0] != self.compare_clusters[1],
                f"{path}.compare_clusters", f"needs two different clusters, got {list(self.compare_clusters)}")
        for i, c in enumerate(self.compare_clusters):
            check_positive(c, f"{path}.compare_clusters.{i}")


@dataclass(frozen=True)
class Attribution:
    """Where the encoder looks (paper Sect. 4.5.3, Fig. 16): Grad-CAM and ViT relevance maps."""

    galaxies_per_class: int   # seeded test galaxies per class (all of a class that has fewer)

    def validate(self, path: str) -> None:
        check_positive(self.galaxies_per_class, f"{path}.galaxies_per_class")


@dataclass(frozen=True)
class Ablation:
    """Encoder ablation (paper Sect. 4.3, Fig. 6): single-branch encoders trained like the fusion one."""

    surveys: list[str]
    branches: list[Branches]

    def validate(self, path: str) -> None:
        require("fusion" not in self.branches, f"{path}.branches",
                "'fusion' is the survey's own encoder (train stage); list only cnn and/or vit")
        require(len(set(self.branches)) == len(self.branches), f"{path}.branches", "has duplicates")


@dataclass(frozen=True)
class Supervised:
    """The supervised baseline of paper Fig. 7: the same encoder plus a linear head, cross-entropy."""

    epochs: int
    min_steps: int            # small subsets get at least this many SGD steps
    batch_size: int
    lr: float
    momentum: float
    weight_decay: float

    def validate(self, path: str) -> None:
        for name in ("epochs", "min_steps", "batch_size", "lr"):
            check_positive(getattr(self, name), f"{path}.{name}")
        check_fraction(self.momentum, f"{path}.momentum")
        require(self.weight_decay >= 0, f"{path}.weight_decay", "must be >= 0")


@dataclass(frozen=True)
class LabelEfficiency:
    """Contrastive vs supervised for a few labelled galaxies (paper Sect. 4.3, Fig. 7)."""

    surveys: list[str]
    sizes: list[int]          # labelled galaxies per subset, class-balanced (capped by the train split)
    k: int                    # kNN on the frozen representation
    representation: Literal["backbone", "projection"]
    linear_c: float           # inverse L2 strength of the logistic-regression probe
    supervised: Supervised

    def validate(self, path: str) -> None:
        require(len(self.sizes) > 0, f"{path}.sizes", "needs at least one size")
        for i, n in enumerate(self.sizes):
            check_positive(n, f"{path}.sizes.{i}")
        require(list(self.sizes) == sorted(set(self.sizes)), f"{path}.sizes",
                f"must be increasing, without repeats: {list(self.sizes)}")
        check_positive(self.k, f"{path}.k")
        check_positive(self.linear_c, f"{path}.linear_c")


@dataclass(frozen=True)
class PaperKnn:
    """One dataset of the paper's Table 3: the surveys compared with it and its kNN accuracies."""

    name: str                 # as the paper calls it, e.g. "GZ2"
    surveys: list[str]        # our surveys (real and simulated) shown beside it
    knn: dict[str, float]     # "k1" .. "k20" -> accuracy (%)

    def validate(self, path: str) -> None:
        for key, value in self.knn.items():
            require(key.startswith("k") and key[1:].isdigit(), f"{path}.knn.{key}", "keys are k<number>")
            require(0 <= value <= 100, f"{path}.knn.{key}", f"an accuracy in %, got {value}")


@dataclass(frozen=True)
class Report:
    """The static HTML report (stage ``report``): what its pages show and how big the thumbnails are."""

    thumbnail_px: int         # galaxy thumbnails are resized to this many px across
    max_misclassified: int    # misclassified test galaxies shown per survey (paper Fig. 9)
    neighbour_queries: int    # test galaxies per class in the nearest-neighbour galleries
    neighbours: int           # neighbours shown per query galaxy
    paper: dict[str, PaperKnn]   # paper Table 3, one entry per dataset

    def validate(self, path: str) -> None:
        for name in ("thumbnail_px", "max_misclassified", "neighbour_queries", "neighbours"):
            check_positive(getattr(self, name), f"{path}.{name}")


@dataclass(frozen=True)
class Params:
    seed: int
    surveys: list[str]
    augment: dict[str, Augment]
    models: dict[str, Model]
    evaluate: Evaluate
    io: Io
    knn: Knn
    cross: Cross
    cluster: Cluster
    morphology: Morphology
    attribution: Attribution
    ablation: Ablation
    label_efficiency: LabelEfficiency
    report: Report
    survey: dict[str, Survey]
    sim_population: dict[str, Any] = field(default_factory=dict)

    def validate(self, path: str) -> None:
        for name in self.surveys:
            require(name in self.survey, "surveys", f"{name!r} has no block under survey:")
            require("-" not in name, "surveys", f"{name!r}: survey names may not contain '-'")
        for block in ("ablation", "label_efficiency"):
            for i, name in enumerate(getattr(self, block).surveys):
                # their stages read the survey's prepared data, which only `surveys` produces
                require(name in self.surveys, f"{block}.surveys.{i}",
                        f"{name!r} is not one of the surveys dvc repro runs {list(self.surveys)}")
        for target, subsets in self.cross.subsets.items():
            if target in self.survey:
                for subset, classes in subsets.items():
                    for cls in classes:
                        require(cls in self.survey[target].classes, f"cross.subsets.{target}.{subset}",
                                f"{cls!r} is not a class of survey {target}")
        for name, survey in self.survey.items():
            require(survey.train.model in self.models, f"survey.{name}.train.model",
                    f"{survey.train.model!r} is not one of models {sorted(self.models)}")
            require(survey.train.augment in self.augment, f"survey.{name}.train.augment",
                    f"{survey.train.augment!r} is not one of augment {sorted(self.augment)}")


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate params.yaml; raises :class:`ConfigError` naming the bad key."""
    return parse(Params, read_params(path), "")


def survey_params(params: Params, name: str) -> Survey:
    """The block of survey ``name``; a clear error if it is not defined."""
    if name not in params.survey:
        raise ConfigError(f"survey.{name}: no such survey (defined: {', '.join(sorted(params.survey))})")
    return params.survey[name]

