"""visualstreams: species-specific two-stream models of the visual cortex, compiled from connectomes.

The package is laid out as its pipeline, each stage a subpackage that imports only the stages below it
(checked by ``make lint``): ``connectome`` (graphs, presets, files) -> ``network`` (compile once, the model)
-> ``data``, ``tasks`` -> ``engine`` (the training loop) -> ``runs`` (run directories, train and resume) ->
``analysis`` -> ``viz`` -> ``report`` -> ``experiment`` (compare species) -> ``cli``. This module gathers the
public API, each name imported when first used (so that the command line starts at once); nothing inside the
package imports it.
"""

from ._lazy import export_names, lazy_exports
from ._version import __version__

_EXPORTS = {
    ".analysis.predictivity": ("PredictivityConfig", "neural_predictivity"),
    ".analysis.representations": ("similarity",),
    ".analysis.similarity": ("cka", "rsa"),
    ".connectome": (
        "Connectome", "direction_rules", "list_connectomes", "load_connectome", "register_connectome",
        "save_connectome",
    ),
    ".data": ("FashionMNIST", "ImageSet", "load_dataset", "load_fashion_mnist"),
    ".data.recordings": ("Recordings", "load_recordings", "write_recordings"),
    ".engine": ("TrainConfig", "evaluate", "make_config"),
    ".errors": ("ConfigError", "ConnectomeError", "DataError", "DirectoryInUse", "VisualStreamsError"),
    ".experiment": ("compare", "predict"),
    ".export": ("export_brainscore",),
    ".network": (
        "Architecture", "AreaSpec", "CompiledNetwork", "HeadSpec", "VisualStreamsNet", "build_model",
        "compile_network", "default_architecture", "load_architecture",
    ),
    ".runs": ("load_run", "resume_run", "train"),
    ".viz.predictivity": ("plot_predictivity",),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = ["__version__", *export_names(_EXPORTS)]
