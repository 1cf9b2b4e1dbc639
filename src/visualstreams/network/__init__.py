"""The network: architectures (``architecture``), the one compile step (``compile``), the ``nn.Module``
built from its spec (``model``), the connection modes (``modes``) and a recurrent network's one-step controls
(``twins``). Imports the connectome layer and leaves."""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:  # the exports, imported on first use by lazy_exports (docs and type checkers read these)
    from .architecture import Architecture, AreaSpec, HeadSpec, block_for_level, default_architecture, load_architecture
    from .compile import CompiledNetwork, compile_network
    from .model import VisualStreamsNet, build_model, count_parameters
    from .modes import MODE_DESCRIPTIONS, MODES

__getattr__, __dir__ = lazy_exports(__name__)
__all__ = [
    "Architecture", "AreaSpec", "HeadSpec", "block_for_level", "default_architecture", "load_architecture",
    "CompiledNetwork", "compile_network", "VisualStreamsNet", "build_model", "count_parameters",
    "MODE_DESCRIPTIONS", "MODES",
]
