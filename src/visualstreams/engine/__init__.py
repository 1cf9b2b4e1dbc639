"""The training engine: configuration (``config``), device, precision and threads decided once (``runtime``), the
loop shared by single and stacked training (``loop``, ``stacked``) and checkpoints (``checkpoint``).
Imports the network, data, tasks and leaves; never run directories, experiments or reports."""

from .._lazy import export_names, lazy_exports

_EXPORTS = {
    ".checkpoint": ("CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "checkpoint_state", "read_checkpoint"),
    ".config": ("PRECISIONS", "RECIPES", "TrainConfig", "make_config"),
    ".loop": ("confusion_matrix", "evaluate", "fit", "make_optimizer"),
    ".runtime": (
        "Runtime", "autocast", "cpu_has_fast_bf16", "resolve_device", "resolve_precision", "resolve_runtime",
        "use_threads",
    ),
    ".stacked": ("STRATEGIES", "choose_strategy", "fit_stacked"),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = export_names(_EXPORTS)
