"""The training engine: configuration (``config``), device, precision and threads decided once (``runtime``), the
loop shared by single and stacked training (``loop``, ``stacked``) and checkpoints (``checkpoint``).
Imports the network, data, tasks and leaves; never run directories, experiments or reports."""

from .checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, checkpoint_state, read_checkpoint
from .config import PRECISIONS, RECIPES, TrainConfig, make_config
from .loop import confusion_matrix, evaluate, fit, make_optimizer
from .runtime import (
    Runtime,
    autocast,
    cpu_has_fast_bf16,
    resolve_device,
    resolve_precision,
    resolve_runtime,
    use_threads,
)
from .stacked import STRATEGIES, choose_strategy, fit_stacked

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "checkpoint_state", "read_checkpoint", "PRECISIONS",
           "RECIPES", "TrainConfig", "make_config", "confusion_matrix", "evaluate", "fit", "make_optimizer",
           "Runtime", "autocast", "cpu_has_fast_bf16", "resolve_device", "resolve_precision", "resolve_runtime",
           "use_threads", "STRATEGIES", "choose_strategy", "fit_stacked"]
