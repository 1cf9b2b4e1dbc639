"""visualstreams: species-specific two-stream models of the visual cortex, compiled from connectomes.

The package is laid out as its pipeline, each stage a subpackage that imports only the stages below it
(checked by ``make lint``): ``connectome`` (graphs, presets, files) -> ``network`` (compile once, the model)
-> ``data``, ``tasks`` -> ``engine`` (the training loop) -> ``runs`` (run directories, train and resume) ->
``analysis`` -> ``viz`` -> ``report`` -> ``experiment`` (compare species) -> ``cli``. This module gathers the
public API; nothing inside the package imports it.
"""

from ._version import __version__
from .analysis.predictivity import PredictivityConfig, neural_predictivity
from .analysis.representations import similarity
from .analysis.similarity import cka, rsa
from .connectome import (
    Connectome,
    direction_rules,
    list_connectomes,
    load_connectome,
    register_connectome,
    save_connectome,
)
from .data import FashionMNIST, ImageSet, load_dataset, load_fashion_mnist
from .data.recordings import Recordings, load_recordings, write_recordings
from .engine import TrainConfig, evaluate, make_config
from .errors import ConfigError, ConnectomeError, DataError, DirectoryInUse, VisualStreamsError
from .experiment import compare, predict
from .export import export_brainscore
from .network import (
    Architecture,
    AreaSpec,
    CompiledNetwork,
    HeadSpec,
    VisualStreamsNet,
    build_model,
    compile_network,
    default_architecture,
    load_architecture,
)
from .runs import load_run, resume_run, train
from .viz.predictivity import plot_predictivity

__all__ = [
    "__version__",
    "Architecture", "AreaSpec", "HeadSpec", "default_architecture", "load_architecture",
    "CompiledNetwork", "compile_network",
    "Connectome", "direction_rules", "list_connectomes", "load_connectome", "register_connectome", "save_connectome",
    "FashionMNIST", "load_fashion_mnist", "ImageSet", "load_dataset",
    "ConfigError", "ConnectomeError", "DataError", "DirectoryInUse", "VisualStreamsError",
    "compare", "similarity", "cka", "rsa",
    "Recordings", "load_recordings", "write_recordings", "PredictivityConfig", "neural_predictivity", "predict",
    "plot_predictivity", "export_brainscore",
    "VisualStreamsNet", "build_model",
    "TrainConfig", "evaluate", "load_run", "make_config", "resume_run", "train",
]
