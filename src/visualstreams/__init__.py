"""visualstreams: species-specific two-stream models of the visual cortex, compiled from connectomes.

The package is laid out as its pipeline, each stage a subpackage that imports only the stages below it
(checked by ``make lint``): ``connectome`` (graphs, presets, files) -> ``network`` (compile once, the model)
-> ``data``, ``tasks`` -> ``engine`` (the training loop) -> ``runs`` (run directories, train and resume) ->
``analysis`` -> ``viz`` -> ``report`` -> ``experiment`` (compare species) -> ``cli``. This module gathers the
public API, each name imported when first used (so that the command line starts at once); nothing inside the
package imports it.
"""

from typing import TYPE_CHECKING

from ._lazy import lazy_exports
from ._version import __version__

if TYPE_CHECKING:  # the exports, imported on first use by lazy_exports (docs and type checkers read these)
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
    from .experiment import compare, lesion, predict
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

__getattr__, __dir__ = lazy_exports(__name__)
__all__ = [
    "__version__", "PredictivityConfig", "neural_predictivity", "similarity", "cka", "rsa", "Connectome",
    "direction_rules", "list_connectomes", "load_connectome", "register_connectome", "save_connectome",
    "FashionMNIST", "ImageSet", "load_dataset", "load_fashion_mnist", "Recordings", "load_recordings",
    "write_recordings", "TrainConfig", "evaluate", "make_config", "ConfigError", "ConnectomeError",
    "DataError", "DirectoryInUse", "VisualStreamsError", "compare", "lesion", "predict", "export_brainscore",
    "Architecture", "AreaSpec", "CompiledNetwork", "HeadSpec", "VisualStreamsNet", "build_model",
    "compile_network", "default_architecture", "load_architecture", "load_run", "resume_run", "train",
    "plot_predictivity",
]
