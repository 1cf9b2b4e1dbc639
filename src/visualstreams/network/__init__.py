"""The network: architectures (``architecture``), the one compile step (``compile``), the ``nn.Module``
built from its spec (``model``), the connection modes (``modes``) and a recurrent network's one-step controls
(``twins``). Imports the connectome layer and leaves."""

from .architecture import Architecture, AreaSpec, HeadSpec, block_for_level, default_architecture, load_architecture
from .compile import CompiledNetwork, compile_network
from .model import VisualStreamsNet, build_model, count_parameters
from .modes import MODE_DESCRIPTIONS, MODES

__all__ = ["Architecture", "AreaSpec", "HeadSpec", "block_for_level", "default_architecture", "load_architecture",
           "CompiledNetwork", "compile_network", "VisualStreamsNet", "build_model", "count_parameters",
           "MODE_DESCRIPTIONS", "MODES"]
