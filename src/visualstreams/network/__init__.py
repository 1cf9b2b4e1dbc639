"""The network: architectures (``architecture``), the one compile step (``compile``), the ``nn.Module``
built from its spec (``model``), the connection modes (``modes``) and a recurrent network's one-step controls
(``twins``). Imports the connectome layer and leaves."""

from .._lazy import export_names, lazy_exports

_EXPORTS = {
    ".architecture": (
        "Architecture", "AreaSpec", "HeadSpec", "block_for_level", "default_architecture", "load_architecture",
    ),
    ".compile": ("CompiledNetwork", "compile_network"),
    ".model": ("VisualStreamsNet", "build_model", "count_parameters"),
    ".modes": ("MODE_DESCRIPTIONS", "MODES"),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = export_names(_EXPORTS)
