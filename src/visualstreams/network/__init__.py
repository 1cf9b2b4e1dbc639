"""The network: architectures (``architecture``), the one compile step (``compile``), the ``nn.Module``
built from its spec (``model``), the connection modes (``modes``), a recurrent network's one-step controls
(``twins``) and the config a run's network is made from (``config``: :class:`NetworkConfig`, its condition
label); beside them, the field's reference models by name (``reference``, ``cornet``: AlexNet, VGG, ResNet,
CORnet), not compiled from a connectome. Imports the connectome layer and leaves."""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:  # the exports, imported on first use by lazy_exports (docs and type checkers read these)
    from .architecture import Architecture, AreaSpec, HeadSpec, block_for_level, default_architecture, load_architecture
    from .compile import CompiledNetwork, compile_network
    from .config import NetworkConfig, NetworkSpec, describe_condition, parse_condition
    from .model import VisualStreamsNet, build_model, build_network, count_parameters
    from .modes import MODE_DESCRIPTIONS, MODES
    from .reference import (
        REFERENCE_MODELS,
        ReferenceNet,
        ReferenceNetwork,
        ReferenceSpec,
        build_reference,
        reference_spec,
    )

__getattr__, __dir__ = lazy_exports(__name__)
__all__ = [
    "Architecture", "AreaSpec", "HeadSpec", "block_for_level", "default_architecture", "load_architecture",
    "CompiledNetwork", "compile_network", "NetworkConfig", "NetworkSpec", "describe_condition", "parse_condition",
    "VisualStreamsNet", "build_model", "build_network", "count_parameters",
    "MODE_DESCRIPTIONS", "MODES",
    "REFERENCE_MODELS", "ReferenceNet", "ReferenceNetwork", "ReferenceSpec", "build_reference", "reference_spec",
]
