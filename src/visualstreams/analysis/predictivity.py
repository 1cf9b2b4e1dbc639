"""Neural predictivity: how well each network area predicts recorded neurons, as the field measures it.

For every run, every area (``AREA@tK`` for each step K of a recurrent network) and every recorded region:

1. **Activations** on the stimuli (:mod:`visualstreams.data.stimuli` makes them the network's input), flattened.
   An area with more than ``max_features`` (1,000) features is reduced: with no more stimuli than that, exactly,
   to its coordinates in the stimuli's row space (:func:`row_space`: n features that keep every inner product, so
   both regressions give what they give on the full area); with more stimuli (or more than ``EXACT_BYTES`` of
   activations), to ``max_features`` by scikit-learn's ``SparseRandomProjection`` (fixed seed, the same for every
   run; distances kept within a Johnson-Lindenstrauss bound): from the whole activations where they fit in
   ``EXACT_BYTES``, else batch by batch, so a 224 px V1 never sits in memory whole. The notes say which areas were
   reduced and how. The reduction serves the regression; RSA and CKA (4.) are computed from each area's Gram on its
   full activations wherever those are held (every area of at most ``EXACT_BYTES``).
2. **Cross-validated regression** from the area to the neuroids of **each recorded region on its
   own**, as a Brain-Score benchmark holds one region (``fit="joint"``: to every region's neuroids at once, the
   behaviour before 0.2, which shares PLS's components and ridge's penalty across regions): ``pls``, partial least
   squares with 25 components and ``scale=False`` (Brain-Score's: scikit-learn's ``PLSRegression``, whose NIPALS
   iterates :mod:`.pls` runs on the small cross-product matrix, the same predictions to rounding), or ``ridge``
   (scikit-learn), with its penalty chosen inside
   each training split by ``RidgeCV``'s efficient leave-one-out over a grid scaled to the area (on up to
   ``ALPHA_NEUROIDS`` neuroids drawn by a fixed seed) and then fitted to every neuroid. ``n_splits`` (10) splits
   of the stimuli, ``train_fraction`` (0.9, Brain-Score's; the mouse work uses 0.5) for training, stratified by
   ``object_name`` where the stimulus table has one (``StratifiedShuffleSplit``, seed 1, as Brain-Score),
   otherwise ``ShuffleSplit`` (and a note says why), drawn over the stimuli sorted by id as Brain-Score's
   benchmarks draw them, so the same seed gives Brain-Score's test sets. On held-out stimuli, Pearson r per
   neuroid between prediction and the mean over repetitions; the **score** is the median over the region's
   neuroids, averaged over splits (error: SEM over splits).
3. **Ceiling**: split-half reliability over repetitions (``ceiling_splits`` random halves of each stimulus's
   repetitions, floor(R/2) and the rest, Pearson r per neuroid between the half means, corrected to the mean of
   all R repetitions: Spearman-Brown with n = 2 for an even R, :func:`halves_reliability` for any), median over
   the region's neuroids, mean over half-splits. The **ceiled score** is explained variance, r^2 / ceiling, as
   Brain-Score reports it now (not clipped at 1); it is left out (NaN, with a note) where the ceiling is below
   ``MIN_CEILING``, too low for the ratio to mean anything.
4. **A second view**: RSA (correlation RDMs compared by Spearman) and unbiased linear CKA between each area and
   each region's mean responses, the package's own :func:`~visualstreams.analysis.similarity.rsa` and ``cka``.
5. **The best area per region**: the area with the highest mean score over a run's splits, and how sure: the share
   of splits (and, in :func:`best_areas`, of runs) in which it was best, and its margin over the runner-up.

Two exact shortcuts keep 10,000 neuroids affordable: the targets are rotated onto their training singular vectors
(PLS with ``scale=False`` and ridge depend on the targets only through ``Y Y'`` and act on each rotated column
linearly, so the predictions rotated back are the same, to rounding, as fitting every neuroid; tested), and the
rotation is computed once per split for every run and area.

Steps 1 and 3 live in :mod:`.area_activations` and :mod:`.ceiling`, step 5 across runs and the tests in
:mod:`.best_areas`. Imports runs (to load trained networks), data (stimuli, recordings), the measures and
scikit-learn.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd

from ..data.recordings import Recordings, load_recordings
from ..data.stimuli import FIELD_DEGREES
from ..errors import ConfigError
from ..metrics import at_step
from .area_activations import EXACT_BYTES, StimulusActivations, stimulus_activations
from .ceiling import pearson_columns, split_half_ceiling, stimulus_splits
from .pls import fit_pls

METHODS = ("pls", "ridge")
FITS = ("region", "joint")
MIN_CEILING = 0.1  # below this split-half reliability, r^2 / ceiling is noise divided by noise
ALPHA_NEUROIDS = 200  # ridge's penalty is chosen on at most this many neuroids (seeded): the choice costs ~1 fit
ALPHA_GRID = np.logspace(-6, 2, 9)  # times the mean squared norm of a training row (see _fit_predict)


@dataclass(frozen=True)
class PredictivityConfig:
    """The choices of one predictivity analysis (saved beside its tables, so it can be rerun as it was)."""

    method: str = "pls"
    n_components: int = 25
    n_splits: int = 10
    train_fraction: float = 0.9
    split_seed: int = 1
    max_features: int = 1000
    projection_seed: int = 0
    ceiling: bool = True
    ceiling_splits: int = 10
    ceiling_seed: int = 0
    # "region": one regression per recorded region, as a Brain-Score benchmark holds one region (PLS's components
    # and ridge's penalty are the region's own); "joint": one regression to every neuroid of every region at once
    fit: str = "region"
    # None: as the recordings state it (an Allen session's monitor geometry), else FIELD_DEGREES (8)
    stimulus_degrees: float | None = None
    field_degrees: float = 8.0
    # The grey level around a stimulus smaller than the field: 0, black, the background these networks were
    # trained on (Fashion-MNIST's, and the canvas's); Brain-Score pads with grey (128 here), a border the networks
    # never saw in training
    background: int = 0
    time_bin: int | None = None
    similarity: bool = True
    # "areas": each network's areas (a reference model's through its region map); "all": a reference model's every
    # candidate layer besides, the best per region chosen on held-out splits (Brain-Score's layer selection)
    layers: str = "areas"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"unknown regression {self.method!r} (methods: {', '.join(METHODS)})")
        for name in ("n_components", "n_splits", "max_features", "ceiling_splits"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name.replace('_', ' ')} must be a whole number >= 1, got {value!r}")
        if not 0 < self.train_fraction < 1:
            raise ConfigError(f"train fraction must be between 0 and 1, got {self.train_fraction}")
        if isinstance(self.background, bool) or not isinstance(self.background, int) or not (
                0 <= self.background <= 255):
            raise ConfigError(f"background must be a grey level 0-255, got {self.background!r}")
        if self.fit not in FITS:
            raise ConfigError(f"unknown fit {self.fit!r} (fits: {', '.join(FITS)})")
        if self.layers not in ("areas", "all"):
            raise ConfigError(f"unknown layers {self.layers!r} (areas, all)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PredictivityConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})




# -- regression ---------------------------------------------------------------------------------------------
@dataclass
class _Targets:
    """One split's training targets rotated onto their singular vectors (exact for PLS and ridge, see above)."""

    rotated: np.ndarray  # (n_train, r)
    basis: np.ndarray  # (r, neuroids): predictions in the rotated space @ basis = predictions per neuroid
    alpha_columns: np.ndarray  # the neuroids ridge chooses its penalty on


def _rotate(y_train: np.ndarray, seed: int) -> _Targets:
    n, t = y_train.shape
    cols = np.arange(t) if t <= ALPHA_NEUROIDS else np.sort(
        np.random.default_rng(seed).choice(t, ALPHA_NEUROIDS, replace=False))
    if t <= n:  # nothing to gain: the identity
        return _Targets(y_train, np.eye(t, dtype=np.float32), cols)
    # Y = U S V' from the n x n Gram Y Y' = U S^2 U' (one product and an n x n eigensolver: several times faster
    # than an SVD of the n x t matrix); directions with S^2 below 1e-10 of the largest carry nothing and are dropped
    gram = y_train.astype(np.float64) @ y_train.T.astype(np.float64)
    evals, evecs = np.linalg.eigh(gram)
    keep = evals > evals[-1] * 1e-10
    s = np.sqrt(evals[keep])
    u = evecs[:, keep]
    basis = ((u / s).T @ y_train.astype(np.float64)).astype(np.float32)  # V' = S^-1 U' Y
    return _Targets((u * s).astype(np.float32), basis, cols)


def _fit_predict(x_train: np.ndarray, y: _Targets, y_train: np.ndarray, x_test: np.ndarray,
                 cfg: PredictivityConfig) -> tuple[np.ndarray, float]:
    """Held-out predictions per neuroid (n_test, neuroids), and ridge's penalty (NaN for PLS)."""
    from sklearn.linear_model import Ridge, RidgeCV

    alpha = math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NumPy's and sklearn's chatter on degenerate areas; scores show it
        if cfg.method == "pls":
            k = max(1, min(cfg.n_components, x_train.shape[0] - 1, x_train.shape[1]))
            pred = fit_pls(x_train, y.rotated, k).predict(x_test)
        else:
            # the grid in units of the mean squared norm of a training row: the same whatever basis the
            # features are in (the row-space reduction keeps it), so every area and reduction gets one grid
            scale = float(np.sum(x_train.astype(np.float64) ** 2)) / len(x_train)
            grid = ALPHA_GRID * (scale if scale > 0 else 1.0)
            search = RidgeCV(alphas=grid).fit(x_train, y_train[:, y.alpha_columns])
            alpha = float(search.alpha_)
            pred = Ridge(alpha=alpha).fit(x_train, y.rotated).predict(x_test)
        pred = np.asarray(pred, dtype=np.float32).reshape(len(x_test), -1)
    return pred @ y.basis, alpha


def _has_variance(x: np.ndarray) -> bool:
    return bool(np.any(np.ptp(x, axis=0) > 0))


# -- the analysis -------------------------------------------------------------------------------------------
@dataclass
class PredictivityResult:
    """The tables (DataFrames) of one analysis; ``summary`` is the one to read first.

    * ``runs``: one row per run (run, species, condition, seed, steps).
    * ``scores``: one row per run, name, region and split: the median r over the region's neuroids.
    * ``summary``: one row per run, name and region: ``r`` (mean over splits), ``r_sem``, ``ceiling``,
      ``ceiled`` (r^2 / ceiling), ``features`` (before any reduction), ``reduction``.
    * ``ceilings``: one row per region: ``ceiling`` (mean over half-splits), ``ceiling_sem``, ``n_neuroids``,
      ``n_stimuli``, ``usable`` (ceiling >= MIN_CEILING).
    * ``similarity``: RSA and CKA of each run's name with each region (long: metric, value).
    * ``best``: per run and region, the best name, its score, runner-up, margin, share of splits it won.
    * ``notes``: plain sentences (ceilings too low, projections).
    """

    runs: pd.DataFrame
    scores: pd.DataFrame
    summary: pd.DataFrame
    ceilings: pd.DataFrame
    similarity: pd.DataFrame
    best: pd.DataFrame
    config: PredictivityConfig
    recordings: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def _repr_html_(self) -> str:  # Jupyter shows the summary table
        return self.summary._repr_html_()  # type: ignore[operator]


def score_kinds(summary: pd.DataFrame) -> dict[str, str]:
    """Per region, the score read across runs: ``ceiled`` where that region's ceiling allows it (some ceiled value),
    else ``r``. Chosen region by region: one unreliable region must not turn every other to r, nor be read as
    ceiled itself (its NaNs broke the statistics before)."""
    return {str(region): "ceiled" if grp["ceiled"].notna().any() else "r"
            for region, grp in summary.groupby("region", sort=False)}


def ceiled(r: Any, ceiling: Any) -> Any:
    """Explained variance over the ceiling, r^2 / ceiling, **with r's sign**: a negative correlation (predictions
    anticorrelated with the responses) is no explained variance and must not rank above a small positive one."""
    return np.sign(r) * np.asarray(r) ** 2 / ceiling


def held_out_halves(scores: pd.DataFrame) -> pd.DataFrame:
    """Per run, name and region: the mean r over the even-numbered splits (``r_select``, where a choice among names
    is made) and over the odd-numbered ones (``r_report``, where the chosen one is scored), so that a choice among
    candidates (the best area, the best step) is not scored on the splits that made it: the maximum of noisy means
    is biased upward, the more so the more candidates a network has. The splits' test sets overlap (shuffle
    splits), so this reduces the selection bias rather than removing it. With a single split both are that split's."""
    odd = scores["split"] % 2 == 1
    single = not odd.any()
    choosing, scoring = (scores, scores) if single else (scores[~odd], scores[odd])
    keys = ["run", "name", "region"]
    select = choosing.groupby(keys, sort=False)["r"].mean().rename("r_select")
    report = scoring.groupby(keys, sort=False)["r"].mean().rename("r_report")
    wins = scoring.assign(top=lambda d: d.groupby(["run", "region", "split"])["r"].transform("max") == d["r"])
    share = wins.groupby(keys, sort=False)["top"].mean().rename("share_of_report_splits")
    return pd.concat([select, report, share], axis=1).reset_index()


def best_per_run(scores: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """For each run and region: the name chosen as best on the even-numbered splits (highest mean r; r orders as
    r^2 / ceiling for one region), scored on the odd-numbered ones (``r``, and ``ceiled`` from it): a score less
    inflated by the choice (the halves share stimuli). The runner-up (second on the choosing splits) and the
    margin, and the share of the scoring splits in which the best one had the highest r, are read on the scoring
    splits too."""
    halves = held_out_halves(scores)
    ceilings = summary.drop_duplicates("region").set_index("region")["ceiling"]
    kinds = score_kinds(summary)
    rows = []
    for (run, region), grp in halves.groupby(["run", "region"], sort=False):
        ranked = grp.sort_values("r_select", ascending=False, kind="stable")
        top = ranked.iloc[0]
        second = ranked.iloc[1] if len(ranked) > 1 else None
        ceiling = ceilings.get(region, math.nan)
        usable = kinds[str(region)] == "ceiled"
        rows.append({"run": run, "region": region, "best": top["name"], "r": float(top["r_report"]),
                     "ceiled": float(ceiled(top["r_report"], ceiling)) if usable else math.nan,
                     "runner_up": None if second is None else second["name"],
                     "margin": math.nan if second is None else float(top["r_report"] - second["r_report"]),
                     "share_of_splits": float(top["share_of_report_splits"]),
                     "chosen_on": "even splits, scored on odd" if (scores["split"] % 2 == 1).any() else
                     "the one split (not held out)"})
    return pd.DataFrame(rows)


def _check_areas(run_dirs: Sequence[Any], areas: Sequence[str]) -> None:
    from ..connectome import Connectome
    from ..runs import RunDir

    for d in run_dirs:
        config = RunDir(d).read_config()
        names = (list(config["model"].get("regions", {})) if isinstance(config.get("model"), dict)  # a reference model
                 else Connectome.from_dict(config.get("connectome", {})).areas)
        # the network's section, or the train section of a config.json written before the split
        steps = int((config.get("network") or config.get("train", {})).get("steps", 1))
        allowed = set(names) | {at_step(a, t) for a in names for t in range(steps) if steps > 1}
        unknown = [a for a in areas if a not in allowed]
        if unknown:
            raise ConfigError(f"{d}: no area {unknown[0]!r} (areas: {', '.join(names)}"
                              f"{'; steps as AREA@tK' if steps > 1 else ''})")


def neural_predictivity(
    run_dirs: Sequence[Any],
    recordings: Recordings | str | os.PathLike[str],
    *,
    stimuli: str | os.PathLike[str] | None = None,
    config: PredictivityConfig | None = None,
    areas: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    device: str = "cpu",
    progress: bool = True,
) -> PredictivityResult:
    """Score every area of every run against every recorded region (see the module docstring for the method).

    ``run_dirs``: finished run directories (``labels`` name them; default their paths). ``recordings``: a
    :class:`~visualstreams.data.recordings.Recordings`, or a file that
    :func:`~visualstreams.data.recordings.load_recordings` reads (with its ``stimuli`` table). ``config``: a
    :class:`PredictivityConfig` (the regression, splits, ceiling, degrees).
    ``areas`` (names, or ``AREA@tK``) and ``regions`` keep only those. Returns a :class:`PredictivityResult`.
    """
    from tqdm.auto import tqdm

    from .similarity import cross_similarity

    cfg = config or PredictivityConfig()
    if not isinstance(recordings, Recordings):
        recordings = load_recordings(recordings, stimuli)
    stated = recordings.stimulus_degrees
    if cfg.stimulus_degrees is None:  # decided here, once, and saved as decided
        cfg = replace(cfg, stimulus_degrees=stated if stated is not None else FIELD_DEGREES)
    if not run_dirs:
        raise ConfigError("predictivity needs at least one run directory")
    labels = list(labels) if labels is not None else [str(d) for d in run_dirs]
    if len(labels) != len(run_dirs) or len(set(labels)) != len(labels):
        raise ConfigError("predictivity needs one distinct label per run")
    rec = recordings.select_regions(list(dict.fromkeys(regions))) if regions else recordings
    notes: list[str] = list(recordings.notes)
    if stated is not None and cfg.stimulus_degrees != stated:
        notes.append(f"the recordings state that their stimuli spanned {stated:g} degrees; scored as asked, at "
                     f"{cfg.stimulus_degrees:g}")
    if areas is not None:  # from config.json: a bad name is refused before any stimulus is read or network run
        _check_areas(run_dirs, areas)

    # the ceiling first: seconds, and a refusal (too few repetitions) before minutes of activations
    if cfg.ceiling:
        ceiling_splits, _ = split_half_ceiling(rec, cfg.ceiling_splits, cfg.ceiling_seed, cfg.time_bin)
        ceilings = (ceiling_splits.groupby("region", sort=False)
                    .agg(ceiling=("ceiling", "mean"), ceiling_sem=("ceiling", "sem"),
                         n_neuroids=("n_neuroids", "first"), n_stimuli=("n_stimuli", "first")).reset_index())
        ceilings["usable"] = ceilings["ceiling"] >= MIN_CEILING
        for row in ceilings.itertuples():
            if not row.usable:
                notes.append(f"{row.region}: ceiling {row.ceiling:.3f} (split-half, Spearman-Brown) is below "
                             f"{MIN_CEILING}: too low to interpret a ceiled score; raw r only")
    else:
        ceilings = pd.DataFrame({"region": rec.regions, "ceiling": math.nan, "ceiling_sem": math.nan,
                                 "n_neuroids": [int((rec.region == r).sum()) for r in rec.regions],
                                 "n_stimuli": len(rec.stimuli), "usable": False})
    y_all = rec.averaged(cfg.time_bin)
    n_stimuli = len(rec.stimuli)
    strata = rec.stimuli["object_name"].tolist() if "object_name" in rec.stimuli else None
    splits = stimulus_splits(n_stimuli, cfg.n_splits, cfg.train_fraction, cfg.split_seed, strata,
                             ids=rec.stimulus_ids, notes=notes)
    if strata is None:
        notes.append("no object_name in the stimulus table: splits are not stratified")

    cache: dict[tuple[int, int, float], np.ndarray] = {}

    def images(size: int, channels: int, field: float | None = None) -> np.ndarray:
        # an anatomy-derived network is shown the stimuli at the field its blocks were derived for
        key = (size, channels, cfg.field_degrees if field is None else field)
        if field is not None and field != cfg.field_degrees and key not in cache:
            notes.append(f"networks with anatomy blocks derived for {field:g} deg are shown the stimuli at "
                         f"{field:g} deg, not the {cfg.field_degrees:g} deg of the others")
        if key not in cache:
            cache[key] = rec.stimulus_inputs(size=size, channels=channels,
                                             stimulus_degrees=float(cfg.stimulus_degrees or 0),
                                             field_degrees=key[2], background=cfg.background)
        return cache[key]

    region_masks = {r: rec.region == r for r in rec.regions}
    regions = list(region_masks)
    sims: list[dict[str, Any]] = []

    def similarity_of(ra: StimulusActivations) -> None:
        """RSA and CKA of each of the run's names with each region, from the names' Gram parts (their full
        activations where held), then the Gram parts dropped: one run's at a time in memory."""
        names = list(ra.acts)
        try:
            mats = cross_similarity([ra.grams[n] for n in names], [y_all[:, region_masks[r]] for r in regions],
                                    ("rsa", "cka"))
        except ValueError as exc:
            raise ConfigError(f"RSA/CKA: {(str(exc).splitlines() or [type(exc).__name__])[0]}") from None
        for i, name in enumerate(names):
            for j, region in enumerate(regions):
                for metric in ("rsa", "cka"):
                    sims.append({"run": ra.run, "name": name, "area": ra.area_of[name], "step": ra.step_of[name],
                                 "region": region, "metric": metric, "value": float(mats[metric][i, j])})
        ra.grams = {}

    recorded = []
    for d, lab in tqdm(list(zip(run_dirs, labels, strict=True)), desc="activations", unit="run",
                       disable=not progress):
        ra = stimulus_activations(d, images, areas=areas, max_features=cfg.max_features,
                                  projection_seed=cfg.projection_seed, device=device, label=lab,
                                  keep_gram=cfg.similarity, every_layer=cfg.layers == "all")
        if cfg.similarity:
            similarity_of(ra)
        recorded.append(ra)
    for ra in recorded[:1]:
        for how, what in (("row space", f"reduced exactly to their {n_stimuli} row-space coordinates"),
                          ("random projection", f"projected to {cfg.max_features:,} (sparse random projection)")):
            named = [f"{n} ({ra.features[n]:,})" for n, r in ra.reduction.items() if r == how]
            if named:
                notes.append(f"areas with more than {cfg.max_features:,} features {what} for the regression: "
                             f"{', '.join(named)}")
        if cfg.similarity:
            whole = n_stimuli * 4 * max(ra.features.values()) <= EXACT_BYTES
            notes.append("RSA and CKA computed on every area's full activations" if whole else
                         f"RSA and CKA computed on the full activations of areas of at most "
                         f"{EXACT_BYTES // 2**30} GiB at these stimuli, on the projections of the others")
    # Which neuroids one regression fits: each region alone (Brain-Score's benchmarks hold one region each), or
    # every region at once
    groups = ([[r] for r in region_masks] if cfg.fit == "region" else [list(region_masks)])
    rows = []
    jobs = [(ra, n) for ra in recorded for n in ra.acts]
    bar = tqdm(total=len(splits) * len(jobs) * len(groups), desc=f"fitting ({cfg.method})", unit="fit",
               disable=not progress)
    for k, (train, test) in enumerate(splits):
        for group in groups:
            cols = np.flatnonzero(np.any([region_masks[r] for r in group], axis=0))
            y_train, y_test = y_all[train][:, cols], y_all[test][:, cols]
            targets = _rotate(y_train, seed=cfg.split_seed + k)
            for ra, name in jobs:
                x = ra.acts[name]
                if _has_variance(x[train]):
                    pred, alpha = _fit_predict(x[train], targets, y_train, x[test], cfg)
                    r = pearson_columns(pred, y_test)
                else:  # an area silent on every training stimulus predicts nothing
                    r, alpha = np.full(len(cols), np.nan), math.nan
                for region in group:
                    sel = region_masks[region][cols]
                    valid = r[sel][np.isfinite(r[sel])]
                    rows.append({"run": ra.run, "name": name, "area": ra.area_of[name], "step": ra.step_of[name],
                                 "region": region, "split": k, "r": float(np.median(valid)) if len(valid) else 0.0,
                                 "n_neuroids": int(sel.sum()), "n_predicted": len(valid), "alpha": alpha})
                bar.update()
    bar.close()
    scores = pd.DataFrame(rows)
    run_table = pd.DataFrame([{"run": ra.run, "species": ra.species, "condition": ra.condition, "seed": ra.seed,
                               "steps": ra.steps} for ra in recorded])
    summary = (scores.groupby(["run", "name", "area", "step", "region"], sort=False)
               .agg(r=("r", "mean"), r_sem=("r", "sem"), n_splits=("split", "count")).reset_index())
    summary = summary.merge(ceilings[["region", "ceiling", "usable"]], on="region", how="left")
    summary["ceiled"] = np.where(summary["usable"], ceiled(summary["r"], summary["ceiling"]), np.nan)
    by_run = {ra.run: ra for ra in recorded}
    summary["features"] = [by_run[r].features[n] for r, n in zip(summary["run"], summary["name"], strict=True)]
    summary["reduction"] = [by_run[r].reduction[n] for r, n in zip(summary["run"], summary["name"], strict=True)]
    summary = run_table.merge(summary.drop(columns="usable"), on="run")

    similarity_table = pd.DataFrame(sims, columns=["run", "name", "area", "step", "region", "metric", "value"])
    best = best_per_run(scores, summary)
    return PredictivityResult(run_table, scores, summary, ceilings, similarity_table, best, cfg, rec.info(), notes)
