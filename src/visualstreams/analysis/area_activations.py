"""Every area's activations on a set of stimuli, for neural predictivity (:mod:`.predictivity`): recorded by
area (``AREA@tK`` for each step of a recurrent network), flattened, and reduced where an area is large (exactly to
the stimuli's row space, or by a seeded sparse random projection); see the predictivity module's step 1."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..metrics import split_step

EXACT_BYTES = 2 * 1024**3  # an area's activations held whole for the exact row-space reduction (below: projected)


@dataclass
class StimulusActivations:
    """One run's activations on the stimuli: name (``AREA`` or ``AREA@tK``) -> (stimuli, features) float32."""

    run: str
    species: str
    condition: str
    seed: int
    steps: int
    acts: dict[str, np.ndarray]
    features: dict[str, int]  # each name's features before any projection
    area_of: dict[str, str]
    step_of: dict[str, int]
    reduction: dict[str, str]  # "none", "row space" (exact) or "random projection"
    area_shapes: dict[str, tuple[int, int, int]]  # each area's (channels, height, width), as the network has it
    # each name's Gram parts from its full activations, for RSA and CKA (keep_gram): exact whatever the reduction,
    # but for areas too large to hold whole (then from their projection)
    grams: dict[str, Any] = field(default_factory=dict)


def _projector(n_features: int, k: int, seed: int) -> Any:
    from sklearn.random_projection import SparseRandomProjection

    proj = SparseRandomProjection(n_components=k, random_state=seed, dense_output=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fit reads only the feature count; its JL-bound warning is about n
        proj.fit(np.zeros((1, n_features), dtype=np.float32))
    return proj


def row_space(x: np.ndarray) -> np.ndarray:
    """(n, d) features with d > n -> (n, n) coordinates in their row space, ``Q sqrt(L)`` of ``X X' = Q L Q'``:
    every inner product between stimuli is kept, so ridge and PLS (``scale=False``) fit and predict exactly as on
    ``x``, at the cost of n features instead of d. Unsupervised and lossless: using the test stimuli's images here
    tells the regression nothing it would not see in ``x``."""
    gram = x.astype(np.float64) @ x.T.astype(np.float64)
    evals, evecs = np.linalg.eigh(gram)
    return (evecs * np.sqrt(np.clip(evals, 0, None))).astype(np.float32)


def stimulus_activations(run_dir: Any, images: np.ndarray | Callable[[int, int], np.ndarray], *,
                         areas: Sequence[str] | None = None, max_features: int = 1000, projection_seed: int = 0,
                         device: str = "cpu", batch_size: int = 100, label: str | None = None,
                         progress: bool = False, keep_gram: bool = False,
                         every_layer: bool = False) -> StimulusActivations:
    """Record a finished run's areas on the stimuli. ``images``: uint8 (n, C, H, W) at the network's input, or a
    function ``(size, channels) -> images`` (so each network gets the stimuli at its own size and channels), called
    ``(size, channels, field_degrees)`` for a network whose blocks were derived from an anatomy for images spanning
    ``field_degrees`` (its eye and maps are that field's: its stimuli are placed at it).

    Names: each area, or ``AREA@tK`` for every step of a network of several steps. ``areas`` keeps only these
    (area names, which keep all their steps, or ``AREA@tK``). Features beyond ``max_features`` are reduced as
    the module docstring says. ``keep_gram``: also each name's Gram parts for RSA and CKA, from its full
    activations where they are held (every area of at most ``EXACT_BYTES``), else from its projection.
    ``every_layer``: a reference model's every candidate layer besides its areas (module paths,
    :meth:`~visualstreams.network.reference.ReferenceNet.candidate_layers`), for a Brain-Score-style choice of the
    layer per region on held-out splits; a connectome network's layers are its areas.
    """
    import torch
    from tqdm.auto import tqdm

    from ..engine import TrainConfig, resolve_runtime
    from ..runs import load_run

    dev = resolve_runtime(device).device
    result = load_run(run_dir, device=str(dev))
    model, config = result.model, result.config
    cfg = TrainConfig.of_run(config)
    spec = model.spec
    if callable(images):
        net = cfg.network
        images = (images(spec.image_size, spec.in_channels, net.field_degrees) if net.blocks == "anatomy" else
                  images(spec.image_size, spec.in_channels))
    expected = (spec.in_channels, spec.image_size, spec.image_size)
    if tuple(images.shape[1:]) != expected:
        raise ConfigError(f"{run_dir}: stimuli are {tuple(images.shape[1:])}, the network takes {expected}")
    # Every step of an area computed at several (all areas of a recurrent network; some of a reference CORnet's),
    # else the area itself
    stepped = {split_step(n)[0] for n in spec.activation_names() if split_step(n)[1] is not None}
    names = [n for n in spec.activation_names() if split_step(n)[1] is not None or n not in stepped]
    steps = max([split_step(n)[1] or 0 for n in names], default=0) + 1
    area_of = {n: split_step(n)[0] for n in names}
    step_of = {n: split_step(n)[1] or 0 for n in names}
    shapes_of = dict(spec.area_shapes)
    layers = list(getattr(model, "candidate_layers", list)()) if every_layer else []
    if layers:
        model.extra_layers = tuple(layers)
        with torch.inference_mode():
            _, probe = model.eval()(torch.zeros(1, spec.in_channels, spec.image_size, spec.image_size,
                                                device=dev), return_areas=True)
        shapes_of.update({p: tuple(probe[p].shape[1:]) for p in layers})
        names += [p for p in layers if p not in names]
        area_of.update({p: p for p in layers})
        step_of.update(dict.fromkeys(layers, 0))
    if areas is not None:
        unknown = [a for a in areas if a not in names and a not in model.order]
        if unknown:
            raise ConfigError(f"{run_dir}: no area {unknown[0]!r} (areas: {', '.join(model.order)}"
                              f"{'; steps as AREA@tK' if steps > 1 else ''})")
        names = [n for n in names if n in areas or area_of[n] in areas]
    from .similarity import gram_parts

    shapes = {n: int(np.prod(shapes_of[area_of[n]])) for n in names}
    n = len(images)
    # Held whole (reduced after recording): every large area that fits in EXACT_BYTES; reduced to its row space
    # where it has no more stimuli than max_features, else projected (then from the whole, so RSA and CKA can be
    # computed on the whole first); areas too large to hold are projected batch by batch.
    whole = {a for a, d in shapes.items() if d > max_features and n * d * 4 <= EXACT_BYTES}
    exact = {a for a in whole if n <= max_features}
    projectors = {a: _projector(d, max_features, projection_seed) for a, d in shapes.items()
                  if d > max_features and a not in exact}
    batchwise = {a for a in projectors if a not in whole}
    out: dict[str, list[np.ndarray]] = {a: [] for a in names}
    model.eval()
    with torch.inference_mode():
        for i in tqdm(range(0, n, batch_size), desc=f"activations {label or run_dir}", unit="batch",
                      disable=not progress, leave=False):
            x = torch.as_tensor(images[i:i + batch_size]).to(dev).float().div_(255.0)
            _, acts = model(x.contiguous(memory_format=torch.channels_last), return_areas=True)
            for a in names:
                act = acts[a].float().flatten(1).cpu().numpy()
                out[a].append(projectors[a].transform(act).astype(np.float32) if a in batchwise else act)
    recorded = {a: np.concatenate(v) for a, v in out.items()}
    grams = {a: gram_parts(x) for a, x in recorded.items()} if keep_gram else {}
    for a in whole:
        recorded[a] = row_space(recorded[a]) if a in exact else projectors[a].transform(recorded[a]).astype(
            np.float32)
    return StimulusActivations(
        run=label or str(run_dir), species=str(config.get("name", "")), condition=cfg.network.label, seed=cfg.seed,
        steps=steps, acts=recorded, features=shapes, area_of=area_of, step_of=step_of,
        reduction={a: "row space" if a in exact else "random projection" if a in projectors else "none"
                   for a in names}, area_shapes=shapes_of, grams=grams)
