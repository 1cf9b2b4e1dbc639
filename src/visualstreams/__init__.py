"""visualstreams: species-specific two-stream models of the visual cortex, compiled from connectomes.

Pipeline, one module per stage: ``connectome`` (graphs, presets, I/O, validation) -> ``architecture`` and
``model`` (compile a connectome into a network) -> ``data`` and ``tasks`` -> ``train`` (the engine) ->
``experiment`` (compare species) -> ``report`` (figures); ``cli`` is a thin layer over these.
"""

__version__ = "0.1.0"

from .architecture import Architecture, AreaSpec, HeadSpec, default_architecture  # noqa: E402
from .connectome import (  # noqa: E402
    Connectome,
    list_connectomes,
    load_connectome,
    register_connectome,
    save_connectome,
)
from .data import FashionMNIST, load_fashion_mnist  # noqa: E402
from .errors import ConfigError, ConnectomeError, DataError, VisualStreamsError  # noqa: E402
from .experiment import compare  # noqa: E402
from .model import VisualStreamsNet, build_model  # noqa: E402
from .training import TrainConfig, evaluate, load_run, make_config, resume_run, train  # noqa: E402

__all__ = [
    "Architecture", "AreaSpec", "HeadSpec", "default_architecture",
    "Connectome", "list_connectomes", "load_connectome", "register_connectome", "save_connectome",
    "FashionMNIST", "load_fashion_mnist",
    "ConfigError", "ConnectomeError", "DataError", "VisualStreamsError",
    "compare",
    "VisualStreamsNet", "build_model",
    "TrainConfig", "evaluate", "load_run", "make_config", "resume_run", "train",
]
