"""Representations of trained networks compared: three views on one fixed probe set, and the activations.

* :func:`probe_activations`: each area's output on one fixed probe set (N test images chosen by a fixed seed,
  the same for every run; on canvas tasks at the test set's fixed positions), flattened per area.
* :func:`within_network`: one network, area x area (square).
* :func:`across_runs`: for each area, every pair of runs (long format, one row per pair).
* :func:`species_differences`: the question. For each condition, area and pair of species: mean within-species
  similarity (pairs of runs of one species with different seeds) against mean between-species similarity, their
  difference with a bootstrap 95% CI over seeds, a permutation test over run labels within seeds (over runs where
  no seed is shared), Holm correction and a plain sentence.
* :func:`similarity`: all three for a list of run directories, as DataFrames.

Imports runs (to load trained networks), data, tasks, the measures (:mod:`.similarity`) and the statistics.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .differences import mode_differences, species_differences
from .similarity import ArrayLike, _check_metric, _metric_name, similarity_matrices, similarity_matrix


def within_network(acts_by_area: Mapping[str, ArrayLike], metric: str = "cka", *, untrained: Iterable[str] = (),
                   **options: Any) -> pd.DataFrame:
    """Area x area similarity within one network: a square DataFrame indexed and columned by area name.

    ``acts_by_area``: area -> activations (n, ...) on the same n probes. ``metric`` and ``options`` as in
    ``similarity_matrix``. ``untrained``: areas left untrained in this network; they are listed in
    ``df.attrs["untrained"]`` (a square table has no room for a column) and labelled in ``plot_within_network``.
    """
    areas = list(acts_by_area)
    mat = similarity_matrix([acts_by_area[a] for a in areas], metric, **options)
    df = pd.DataFrame(mat, index=pd.Index(areas, name="area"), columns=pd.Index(areas, name="area"))
    df.attrs["metric"] = _metric_name(metric, options.get("debiased"), options.get("compare"))
    df.attrs["untrained"] = [a for a in areas if a in set(untrained)]
    return df


def _area_set(value: Any) -> set[str] | None:
    """A runs-table cell listing areas: a list/tuple/set, or a string separated by commas or whitespace."""
    if value is None or (not isinstance(value, str) and np.ndim(value) == 0 and pd.isna(value)):
        return None
    if isinstance(value, str):
        return {a for a in value.replace(",", " ").split() if a}
    return {str(a) for a in value}


_RUN_COLUMNS = ("run", "species", "condition", "seed")


def across_runs(acts: Mapping[Hashable, Mapping[str, ArrayLike]], runs: pd.DataFrame,
                areas: Sequence[str] | None = None, metric: str | Sequence[str] = "cka", *,
                precomputed: Mapping[str, Mapping[str, np.ndarray]] | None = None, **options: Any) -> pd.DataFrame:
    """For each area, the similarity of every pair of runs: a long table, one row per (metric, area, pair).

    ``acts``: run id -> area -> activations (n, ...), all on the same n probes. ``runs``: one row per run with
    columns ``run, species, condition, seed`` and optionally ``untrained_areas`` (areas left untrained in that run) or
    ``trained_areas`` (the others are untrained), each a list or a comma/space-separated string. ``areas``:
    default every area in ``acts``, in order of first appearance. ``metric``: one name of ``METRICS`` (or
    ``"cka"``/``"rsa"`` with ``debiased``/``compare`` options) or several names, all computed from one Gram per
    run and area. A run without an area is left out of that area's pairs. Areas are processed one at a time, so
    memory is one area's Grams. ``precomputed``: area -> metric -> run x run matrix already computed (as
    :func:`similarity` does, from the same Grams as the within-network views).

    Columns: ``metric, area, run_a, run_b, species_a, species_b, condition_a, condition_b, seed_a, seed_b, similarity,
    untrained_a, untrained_b, untrained`` (either run's area untrained). Pairs are unordered (run_a comes before
    run_b in ``runs``) and include pairs across conditions; ``species_differences`` keeps pairs within one condition.
    """
    missing = [c for c in _RUN_COLUMNS if c not in runs.columns]
    if missing:
        raise ConfigError(f"runs table lacks column(s) {', '.join(missing)}")
    if runs["run"].duplicated().any():
        raise ConfigError("runs table lists a run more than once")
    if isinstance(metric, str):
        names = [_metric_name(metric, options.pop("debiased", None), options.pop("compare", None))]
    else:
        options.pop("debiased", None)
        options.pop("compare", None)
        names = [_check_metric(m) for m in metric]
    table = runs.reset_index(drop=True)
    absent = [r for r in table["run"] if r not in acts]
    if absent:
        raise ValueError(f"no activations for run(s) {', '.join(map(str, absent))}")
    if areas is None:
        areas = list(dict.fromkeys(a for r in table["run"] for a in acts[r]))

    untrained_sets: list[set[str] | None] = [None] * len(table)
    trained_sets: list[set[str] | None] = [None] * len(table)
    if "untrained_areas" in table.columns:
        untrained_sets = [_area_set(v) for v in table["untrained_areas"]]
    if "trained_areas" in table.columns:
        trained_sets = [_area_set(v) for v in table["trained_areas"]]

    def is_untrained(i: int, area: str) -> bool:
        u, t = untrained_sets[i], trained_sets[i]
        return bool((u is not None and area in u) or (t is not None and area not in t))

    frames = []
    for area in areas:
        idx = [i for i, r in enumerate(table["run"]) if area in acts[r]]
        if len(idx) < 2:
            continue
        if precomputed is not None:
            mats = precomputed[area]
        else:
            mats = similarity_matrices([acts[table["run"][i]][area] for i in idx], names, **options)
        flags = np.array([is_untrained(i, area) for i in idx])
        frames.extend(_pairs_frames(table, area, idx, mats, names, flags))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=_PAIR_COLUMNS)
    out.attrs["metric"] = names[0] if len(names) == 1 else names
    return out[list(_PAIR_COLUMNS)]


_PAIR_COLUMNS = ("metric", "area", "run_a", "run_b", "species_a", "species_b", "condition_a", "condition_b", "seed_a",
                 "seed_b", "similarity", "untrained_a", "untrained_b", "untrained")


def _pairs_frames(table: pd.DataFrame, area: str, idx: list[int], mats: Mapping[str, np.ndarray],
                  names: Sequence[str], flags: np.ndarray) -> list[pd.DataFrame]:
    """The long-table rows of one area: every unordered pair of the runs ``idx`` (rows of ``table``)."""
    ia, ib = np.triu_indices(len(idx), 1)
    sel_a, sel_b = np.asarray(idx)[ia], np.asarray(idx)[ib]
    col = {c: table[c].to_numpy() for c in ("run", "species", "condition", "seed")}
    return [pd.DataFrame({
        "metric": name, "area": area, "run_a": col["run"][sel_a], "run_b": col["run"][sel_b],
        "species_a": col["species"][sel_a], "species_b": col["species"][sel_b],
        "condition_a": col["condition"][sel_a], "condition_b": col["condition"][sel_b],
        "seed_a": col["seed"][sel_a], "seed_b": col["seed"][sel_b], "similarity": mats[name][ia, ib],
        "untrained_a": flags[ia], "untrained_b": flags[ib], "untrained": flags[ia] | flags[ib],
    }) for name in names]


# -- activations of trained runs on a fixed probe set -------------------------------------------------------------
_STACK_BYTES = 6 * 1024**3  # one sweep's stacked Gram vectors (15 runs x 6 areas x 2,000 probes, two metrics: 2.9 GB)
PROBE_SEED = 20261201  # one probe set for every run and every call, whatever the runs' seeds
DEFAULT_PROBES = 1000
HOMOLOGIES = ("name", "presets")


MIN_PROBES = 4  # the debiased HSIC needs n >= 4


def probe_indices(n_test: int, n: int, seed: int = PROBE_SEED) -> np.ndarray:
    """The ``n`` test images of the probe set: drawn without replacement by a fixed seed, in ascending order."""
    if not MIN_PROBES <= n <= n_test:
        raise ConfigError(f"--images must be between {MIN_PROBES} and the test set's {n_test} images, got {n}")
    return np.sort(np.random.default_rng(seed).choice(n_test, size=n, replace=False))


def preset_homology(connectome_name: str, areas: Sequence[str]) -> dict[str, str]:
    """The homology the six-area presets state (``connectome show``), applied to their full versions: e.g.
    ``marmoset-majka2020-full``'s V5 is MT and TEO is IT; ``mouse-oh2014-full``'s VISp is V1, VISl V2, VISpl V4
    and VISal MT. Areas it does not map keep their names; other connectomes are left as they are."""
    from ..connectome.presets.published import PRESETS

    six = PRESETS.get(connectome_name.removesuffix("-full")) if connectome_name.endswith("-full") else None
    if six is None:
        return {}
    mapping = {data_area: canonical for canonical, data_areas in six.mapping.items()
               for data_area in data_areas if len(data_areas) == 1}
    renamed = {a: mapping[a] for a in areas if a in mapping and mapping[a] != a}
    taken = set(areas) - set(renamed)
    return {a: c for a, c in renamed.items() if c not in taken}  # never two areas under one name


def homology_map(connectome_name: str, areas: Sequence[str], homology: str | Mapping[str, str]) -> dict[str, str]:
    """The renaming ``homology`` asks for, of one connectome's areas (only the areas it renames)."""
    if homology == "name":
        return {}
    if homology == "presets":
        return preset_homology(connectome_name, areas)
    if isinstance(homology, Mapping):
        return {a: str(homology[a]) for a in areas if a in homology and str(homology[a]) != a}
    raise ConfigError(f"unknown homology {homology!r} (name, presets, or a mapping of area names)")


@dataclass
class RunActivations:
    """One run's activations on the probe set: area (after homology) -> (n, features) float32."""

    run: str
    species: str
    condition: str
    seed: int
    task: str
    acts: dict[str, np.ndarray]
    untrained: list[str]
    renamed: dict[str, str]


def probe_activations(run_dir: Any, n_images: int = DEFAULT_PROBES, *, data: Any = None, data_path: Any = None,
                      device: str = "cpu", homology: str | Mapping[str, str] = "name", batch_size: int = 250,
                      label: str | None = None, areas: Sequence[str] | None = None) -> RunActivations:
    """Load a finished run and record each area's output on the fixed probe set (:func:`probe_indices`), on a
    canvas task at the test set's fixed positions (and, with ``noise``, its fixed noise), flattened per area.

    Every area is computed (all heads), so under the ``what`` task the dorsal areas, which training never
    touched, are recorded too; they are listed in ``untrained``. ``homology``: ``"name"`` (areas compared by name),
    ``"presets"`` (:func:`preset_homology`) or an explicit mapping of area names to the names to compare under.
    ``areas``: keep only these (names after homology); default all.
    """
    import torch

    from ..data import ImageSet
    from ..engine import TrainConfig, resolve_runtime
    from ..runs import load_run, run_dataset
    from ..tasks import LEVEL_TASKS

    device = str(resolve_runtime(device).device)  # a bad or absent device in one line, before loading
    result = load_run(run_dir, device=device)
    model, config = result.model, result.config
    cfg = TrainConfig.of_run(config)
    task = cfg.make_task()
    # the run's own data as its config.json records it (an image set loaded again; Fashion-MNIST from its
    # directory while it exists, else found as training finds it)
    dataset = data if data is not None else run_dataset(config, data_path)
    idx = probe_indices(len(dataset.test_labels), n_images)
    index = torch.as_tensor(idx)
    items = dataset.test_images[index]
    if isinstance(dataset, ImageSet) and dataset.streamed:
        items = items.decode()  # the probe set only, decoded from the streamed set's files
    items = (items if isinstance(dataset, ImageSet) else items.unsqueeze(1)).to(device)
    labels = dataset.test_labels[index].to(device)
    offsets = task.test_offsets(len(dataset.test_labels))
    offsets = offsets[index] if offsets is not None else None
    # Occlusion, debris and clutter scenes are kept or drawn per test set: the whole test set, as evaluation gives
    # it. A task of levels records its probes at its highest level (one fixed scene each), where the areas differ
    # most.
    pool_images = dataset.test_images if isinstance(dataset, ImageSet) else dataset.test_images.unsqueeze(1)
    pool = (pool_images.to(device), dataset.test_labels.to(device)) if task.needs_pool else None
    if task.name in LEVEL_TASKS:
        task = next(ct for _, ct in task.test_conditions() if ct.occlusion[0] == max(task.occlusion))
    trained = set(model.needed_areas(task.heads))
    out: dict[str, list[np.ndarray]] = {a: [] for a in model.order}
    model.eval()
    with torch.inference_mode():
        for i in range(0, len(idx), batch_size):
            sl = slice(i, i + batch_size)
            x, _ = task.make_batch(items[sl], labels[sl], offsets=None if offsets is None else offsets[sl],
                                   index=index[sl], pool=pool)  # each probe's test noise, as evaluation gives it
            _, acts = model(x, return_areas=True)
            for a in model.order:
                out[a].append(acts[a].float().flatten(1).cpu().numpy())
    renamed = homology_map(model.spec.name, model.order, homology)
    names = [renamed.get(a, a) for a in model.order]
    if len(set(names)) != len(names):
        raise ConfigError(f"{run_dir}: the homology maps two areas onto one name")
    keep = set(areas) if areas is not None else None
    return RunActivations(
        run=label or str(run_dir), species=str(config.get("name", "")), condition=cfg.network.label, seed=cfg.seed,
        task=cfg.task,
        acts={renamed.get(a, a): np.concatenate(v) for a, v in out.items()
              if keep is None or renamed.get(a, a) in keep},
        untrained=[renamed.get(a, a) for a in model.order if a not in trained], renamed=renamed)


def _renamed_areas(run_dir: Any, homology: str | Mapping[str, str]) -> list[str]:
    from ..connectome import Connectome
    from ..runs import RunDir

    config = RunDir(run_dir).read_config()
    if isinstance(config.get("model"), dict):  # a reference model: its areas are its region map's
        name, areas = str(config.get("name", "")), list(config["model"].get("regions", {}))
    else:
        conn = Connectome.from_dict(config.get("connectome", {}))
        name, areas = conn.name, list(conn.areas)
    mapping = homology_map(name, areas, homology)
    return [mapping.get(a, a) for a in areas]


def _check_shared_areas(run_dirs: Sequence[Any], homology: str | Mapping[str, str],
                        areas: Sequence[str] | None) -> list[str]:
    """The areas to compare (every run has them, after homology), from the runs' config.json."""
    names = [_renamed_areas(d, homology) for d in dict.fromkeys(str(d) for d in run_dirs)]
    shared = [a for a in names[0] if all(a in n for n in names)]
    if not shared:
        raise ConfigError("the runs share no area by name (try --homology presets, or a homology file)")
    unknown = [a for a in areas or () if a not in shared]
    if unknown:
        raise ConfigError(f"area {unknown[0]!r} is not in every run (shared areas: {', '.join(shared)})")
    return list(areas) if areas is not None else shared


@dataclass
class SimilarityResult:
    """The three views as DataFrames (``within``, ``across``, ``differences`` between species, and
    ``mode_differences`` between connection modes) and the runs they cover."""

    runs: pd.DataFrame
    within: pd.DataFrame
    across: pd.DataFrame
    differences: pd.DataFrame
    areas: list[str]
    metrics: list[str]
    n_images: int
    mode_differences: pd.DataFrame  # the same test between connection modes, within each species


def similarity(
    run_dirs: Sequence[Any],
    *,
    areas: Sequence[str] | None = None,
    metrics: Sequence[str] = ("cka", "rsa"),
    n_images: int = DEFAULT_PROBES,
    homology: str | Mapping[str, str] = "name",
    labels: Sequence[str] | None = None,
    species: Sequence[str] | None = None,
    data: Any = None,
    data_path: Any = None,
    device: str = "cpu",
    include_same_seed: bool = False,
    n_permutations: int = 10000,
    seed: int = 0,
    progress: bool = True,
) -> SimilarityResult:
    """Compare what the areas of trained runs compute, on one probe set (see the module docstring).

    ``run_dirs``: finished run directories (``labels`` name them in the tables; default their paths; two labels
    may share a directory, as twins of a compare do, with ``species`` naming each label's species; default: the
    name in each run's config.json). The areas compared are those every run has (by name, after
    ``homology``), or ``areas``. ``metrics``: among ``cka`` (linear, debiased), ``cka-biased``, ``rsa`` (correlation
    RDMs compared by Spearman) and ``rsa-whitened``. Returns a :class:`SimilarityResult`; ``differences`` tests,
    for each condition, area and pair of species, whether runs of two species differ more than seeds of one species do
    (one-sided permutation test over run labels, within seeds where runs are paired by seed, Holm across areas
    and pairs; same-seed pairs left out of the between-species pairs unless ``include_same_seed``, since such runs
    share their initial weights).
    """
    from tqdm.auto import tqdm

    if not run_dirs:
        raise ConfigError("similarity needs at least one run directory (or a compare directory)")
    metrics = [_check_metric(m) for m in metrics]
    labels = list(labels) if labels is not None else [str(d) for d in run_dirs]
    if len(labels) != len(run_dirs) or len(set(labels)) != len(labels):
        raise ConfigError("similarity needs one distinct label per run")
    if species is not None and len(species) != len(run_dirs):
        raise ConfigError("similarity needs one species name per run")
    areas = list(dict.fromkeys(areas)) if areas is not None else None
    wanted = _check_shared_areas(run_dirs, homology, areas)  # from config.json, before minutes of activations
    if data is None:  # one load for every run: one probe set, so the runs must share their dataset
        from ..runs import RunDir, run_dataset

        configs = [RunDir(d).read_config() for d in dict.fromkeys(str(d) for d in run_dirs)]
        trained_on = {_dataset_label(c) for c in configs}
        if len(trained_on) > 1:
            raise ConfigError(f"the runs trained on different data ({'; '.join(sorted(trained_on))}); similarity "
                              "compares them on one probe set (runs of one compare share their dataset and split)")
        data = run_dataset(configs[0], data_path)
    cache: dict[str, RunActivations] = {}
    recorded: list[RunActivations] = []
    for k, (d, lab) in enumerate(tqdm(list(zip(run_dirs, labels, strict=True)), desc="activations", unit="run",
                                      disable=not progress)):
        key = str(d)
        if key not in cache:
            cache[key] = probe_activations(d, n_images, data=data, device=device, homology=homology, label=lab,
                                           areas=wanted)
        ra = cache[key]
        name = species[k] if species is not None else ra.species
        recorded.append(RunActivations(lab, name, ra.condition, ra.seed, ra.task, ra.acts, ra.untrained, ra.renamed))
    shared = [a for a in recorded[0].acts if all(a in r.acts for r in recorded)]
    if areas is not None:
        unknown = [a for a in areas if a not in shared]
        if unknown:
            raise ConfigError(f"area {unknown[0]!r} is not in every run (shared areas: {', '.join(shared) or 'none'})")
        shared = list(areas)
    if not shared:
        raise ConfigError("the runs share no area by name (try --homology presets, or a homology file)")
    runs = pd.DataFrame([{"run": r.run, "species": r.species, "condition": r.condition, "seed": r.seed, "task": r.task,
                          "untrained_areas": ",".join(r.untrained),
                          "renamed": ",".join(f"{k}->{v}" for k, v in r.renamed.items())} for r in recorded])
    # One Gram per (run, area), shared by the within-network and the across-run views: all of them in one stack
    # (k = runs x areas vectors of n^2/2 per metric; in blocks past max_bytes). The Gram product in float32, from
    # float64-centred features: 2.5x faster, the similarities move by < 1e-8 (see similarity_matrices).
    unique = list({id(r.acts): r for r in recorded}.values())  # twins of a compare share one run's activations
    reps = [(id(r.acts), a) for r in unique for a in shared]
    try:
        mats = similarity_matrices([r.acts[a] for r in unique for a in shared], metrics, precision="float32",
                                   max_bytes=_STACK_BYTES)
    except ValueError as exc:  # e.g. a probe whose pattern is constant in an area: no correlation distance
        raise ConfigError(f"similarity: {(str(exc).splitlines() or [type(exc).__name__])[0]}") from None
    pos = {key: i for i, key in enumerate(reps)}
    within_frames = []
    for r in recorded:
        rows = [pos[(id(r.acts), a)] for a in shared]
        for m in metrics:
            square = pd.DataFrame(mats[m][np.ix_(rows, rows)], index=pd.Index(shared, name="area_a"),
                                  columns=pd.Index(shared, name="area_b"))
            long = square.stack().rename("similarity").reset_index()
            within_frames.append(long.assign(run=r.run, species=r.species, condition=r.condition, seed=r.seed, metric=m,
                                             untrained_a=long["area_a"].isin(r.untrained),
                                             untrained_b=long["area_b"].isin(r.untrained)))
    within = pd.concat(within_frames, ignore_index=True)[
        ["run", "species", "condition", "seed", "metric", "area_a", "area_b", "similarity", "untrained_a",
         "untrained_b"]]
    acts = {r.run: {a: r.acts[a] for a in shared} for r in recorded}
    per_area = {a: {m: mats[m][np.ix_(idx, idx)] for m in metrics}
                for a in shared for idx in [[pos[(id(r.acts), a)] for r in recorded]]}
    across = across_runs(acts, runs, shared, metrics, precomputed=per_area) if len(recorded) > 1 else pd.DataFrame()
    differences = modes = pd.DataFrame()
    test = {"n_permutations": n_permutations, "seed": seed, "include_same_seed": include_same_seed,
            "alternative": "greater"}
    if len(across) and runs["species"].nunique() > 1:
        differences = _species_tests(across, test)
    if len(across) and runs.loc[~_is_reference(runs["condition"]), "condition"].nunique() > 1:
        modes = mode_differences(across, **test)  # between the connectomes' conditions (a model has one)
    return SimilarityResult(runs, within, across, differences, shared, metrics, n_images, modes)


def _is_reference(conditions: pd.Series) -> pd.Series:
    from ..network.config import is_reference

    return conditions.map(is_reference).astype(bool)


def _species_tests(pairs: pd.DataFrame, test: dict[str, Any]) -> pd.DataFrame:
    """The species' similarity tests: the connectomes' own (as without reference models), then, in Holm families of
    their own, each species against each reference model within every condition of the connectomes' networks (a
    model's runs set beside each), and the models against each other once, within their own condition."""
    ref_a, ref_b = _is_reference(pairs["condition_a"]), _is_reference(pairs["condition_b"])
    parts = [species_differences(pairs[~ref_a & ~ref_b], **test)] if (~ref_a & ~ref_b).any() else []
    if (ref_a | ref_b).any():
        conditions = list(dict.fromkeys([*pairs.loc[~ref_a, "condition_a"], *pairs.loc[~ref_b, "condition_b"]]))
        same = pairs["species_a"] == pairs["species_b"]
        models = set(pairs.loc[ref_a, "species_a"]) | set(pairs.loc[ref_b, "species_b"])
        for c in conditions:  # within pairs of every group, and between pairs of a species and a model only
            keep = ((pairs["condition_a"] == c) | ref_a) & ((pairs["condition_b"] == c) | ref_b) & (
                same | (ref_a != ref_b))
            if keep.any():
                out = species_differences(pairs[keep].assign(condition_a=c, condition_b=c), **test)
                parts.append(out[out["species_a"].isin(models) != out["species_b"].isin(models)])
        if (ref_a & ref_b & ~same).any():
            parts.append(species_differences(pairs[ref_a & ref_b], **test))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _dataset_label(run_config: Mapping[str, Any]) -> str:
    """The dataset a run's config.json records: an image set by its name and where it was loaded from."""
    info = run_config.get("data") or {}
    load = info.get("load")
    if not load:
        return "fashion-mnist"
    # The split's seed matters only where the test set is a seeded split (train draws it by each run's seed).
    seeded = str(info.get("split", "")).startswith("seeded")
    return (f"{info.get('dataset', '?')} from {load.get('name_or_path')}"
            + (f" (test split drawn by seed {load.get('seed')})" if seeded else ""))
