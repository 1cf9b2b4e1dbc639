"""The network a run trains, apart from how it is trained: :class:`NetworkConfig` (its connection mode, steps,
recurrence, twin and input), saved as config.json's ``network`` section, and its label, the *condition* a sweep
groups runs by (``gain``, ``gain-T4``, ``gain-BF4i``, ...). The one place a network config becomes a compiled
network (:meth:`NetworkConfig.compile`, a twin included). Imports the rest of the network layer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ..connectome import Connectome
from ..errors import ConfigError
from .anatomy_blocks import DEFAULT_FIELD_DEG, UNITS_PER_RF, check_units_per_rf, derive_blocks
from .architecture import Architecture
from .compile import ArchitectureLike, CompiledNetwork, compile_network
from .modes import DEFAULT_MODE, DEFAULT_STEPS, MODE_DESCRIPTIONS, TWIN_PREFIXES, check_mode, check_steps
from .reference import REFERENCE_SIZE, ReferenceNetwork, match_width, reference_spec
from .twins import budget_measure, match_budget, twin

INPUT_FIELDS = ("image_size", "in_channels", "classes")
REFERENCE = "reference"  # a reference model's condition
BLOCKS = ("uniform", "anatomy")  # the notebook's blocks for every species, or each area's from its anatomy
ANATOMY = "anatomy"  # the label's last part for anatomy-derived blocks (gain-anatomy, gain-T4-anatomy)
# An anatomy network's size: its natural one (the notebook's channel budget spread by its anatomy), or scaled to the
# uniform network's parameters used / training FLOPs per image (labels -anatomy-P, -anatomy-C)
BUDGETS = {"natural": "", "parameters": "P", "compute": "C"}
# What a run trains, as the pipeline takes it: a connectome's compiled network or a reference model at its input.
NetworkSpec = CompiledNetwork | ReferenceNetwork


@dataclass(frozen=True)
class NetworkConfig:
    """What network a run trains. ``mode``: how a projection's strength acts; ``steps``: time steps it is unrolled
    over (>= 2: with the data's feedback and lateral projections); ``intrinsic``: every area's recurrence within
    itself (steps >= 2; for a twin: the recurrent network it is matched to has it); ``step_norm``: a GroupNorm per
    area and step before the ReLU. ``twin_of``: a one-step network widened to match the network of this many
    steps, on the parameters the task uses (``twin_match="parameters"``, condition ``MODE-BF<T>``) or on training
    FLOPs per image (``"compute"``, ``MODE-BC<T>``).

    The input (``image_size``, ``in_channels``, ``classes`` of the "what" head) is decided by the data and the task
    when a run starts (:func:`~visualstreams.runs.inputs.resolve_input`) and recorded here; None before (a value
    given that the data contradicts is refused then).

    ``model``: one of the field's reference models by name (``resnet18``, ``cornet-s``, ...; see
    :mod:`~visualstreams.network.reference`) in place of a connectome's network; its condition is ``reference``
    and the connection mode, steps, twins and recurrence above do not apply to it (given, they are refused).

    ``blocks``: ``uniform`` (the notebook's blocks for every species, the default) or ``anatomy`` (each area's
    channels, map size and kernel and the species' eye derived from its anatomy table,
    :func:`~visualstreams.network.anatomy_blocks.derive_blocks`, for images spanning ``field_degrees`` degrees; the
    table is the connectome's species' or the file ``anatomy``); condition ``MODE-anatomy``. ``budget``: its natural
    size (the notebook's channels spread by its anatomy; parameters and FLOPs differ from the uniform network's),
    or every channel scaled by one factor to the same connectome's uniform network's parameters used by the task
    (``parameters``, within 2%, ``MODE-anatomy-P``) or training FLOPs per image (``compute``, within 5%,
    ``MODE-anatomy-C``), at the same steps and recurrence; ``budget_target`` sets that number (a compare sets one
    for all its species: the mean of their uniform networks', :meth:`uniform_budget`)."""

    mode: str = DEFAULT_MODE
    steps: int = DEFAULT_STEPS
    twin_of: int | None = None
    twin_match: str = "parameters"
    intrinsic: bool = False
    step_norm: bool = False
    image_size: int | None = None
    in_channels: int | None = None
    classes: int | None = None
    model: str | None = None
    width: float | None = None  # a reference model's channel multiplier (None: the published widths)
    matched_to: str | None = None  # the connectome whose network's used parameters that width matches
    blocks: str = "uniform"
    field_degrees: float | None = None  # anatomy blocks: the visual angle the image spans (None: DEFAULT_FIELD_DEG)
    anatomy: str | None = None  # anatomy blocks: a table file or species (None: the connectome's species')
    budget: str = "natural"
    # what the budget matches (parameters used, or training FLOPs per image); None: this connectome's uniform network's
    budget_target: int | None = None
    # anatomy blocks: units across a receptive field's diameter, which sets every map (None: UNITS_PER_RF)
    units_per_rf: float | None = None

    def __post_init__(self) -> None:
        check_mode(self.mode)
        if self.blocks not in BLOCKS:
            raise ConfigError(f"unknown blocks {self.blocks!r} ({', '.join(BLOCKS)})")
        if self.blocks != ANATOMY and (self.field_degrees is not None or self.anatomy is not None
                                       or self.budget != "natural" or self.units_per_rf is not None):
            raise ConfigError("a field in degrees, an anatomy table, a budget and units per receptive field are "
                              "settings of --blocks anatomy")
        if self.budget not in BUDGETS:
            raise ConfigError(f"unknown budget {self.budget!r} ({', '.join(BUDGETS)})")
        if self.budget_target is not None and (self.budget == "natural" or isinstance(self.budget_target, bool)
                                               or not isinstance(self.budget_target, int) or self.budget_target < 1):
            raise ConfigError(f"a budget target is a whole number >= 1 of a --budget parameters or compute, got "
                              f"{self.budget_target!r}")
        if self.field_degrees is not None:
            if isinstance(self.field_degrees, bool) or not isinstance(self.field_degrees, int | float) or not (
                    0 < self.field_degrees < 360):
                raise ConfigError(f"the image's field must be between 0 and 360 degrees, got {self.field_degrees!r}")
            object.__setattr__(self, "field_degrees", float(self.field_degrees))
        elif self.blocks == ANATOMY:  # recorded: what the blocks were derived for
            object.__setattr__(self, "field_degrees", DEFAULT_FIELD_DEG)
        if self.units_per_rf is not None:
            object.__setattr__(self, "units_per_rf", check_units_per_rf(self.units_per_rf))
        elif self.blocks == ANATOMY:  # recorded (a run written before the option had the same 4)
            object.__setattr__(self, "units_per_rf", UNITS_PER_RF)
        if self.model is not None:
            object.__setattr__(self, "model", reference_spec(self.model).name)
            given = [o for o, v, d in (("--mode", self.mode, DEFAULT_MODE), ("--steps", self.steps, 1),
                                       ("--twin-of", self.twin_of, None), ("--intrinsic", self.intrinsic, False),
                                       ("--step-norm", self.step_norm, False), ("--blocks", self.blocks, "uniform"))
                     if v != d]
            if given:
                raise ConfigError(f"{given[0]} is a setting of a connectome's network; reference model "
                                  f"{self.model} takes none")
        elif self.width is not None or self.matched_to is not None:
            raise ConfigError("a width (--match-params) is a reference model's setting: give --model")
        if (self.width is None) != (self.matched_to is None):  # recorded, labelled and rebuilt only together
            raise ConfigError("a reference model's width comes from matching it to a connectome network "
                              "(matched_reference, --match-params): give both width and matched_to, or neither")
        object.__setattr__(self, "steps", check_steps(self.steps))  # a NumPy integer saved as an int
        if self.twin_of is not None:
            if isinstance(self.twin_of, bool) or not (isinstance(self.twin_of, int) and self.twin_of >= 2):
                raise ConfigError(f"a matched twin is of a network of 2 steps or more, got {self.twin_of!r}")
            if self.steps != 1:
                raise ConfigError(f"a matched twin is a one-step network: it takes no --steps {self.steps}")
        if self.twin_match not in TWIN_PREFIXES:
            raise ConfigError(f"unknown twin match {self.twin_match!r} ({', '.join(TWIN_PREFIXES)})")
        if self.twin_match != "parameters" and self.twin_of is None:  # else it would change nothing, in silence
            raise ConfigError("--twin-match goes with --twin-of T (the twin of the T-step network)")
        if self.intrinsic and self.steps < 2 and self.twin_of is None:
            raise ConfigError("intrinsic recurrence acts from one step to the next: it needs --steps 2 or more")
        for name in INPUT_FIELDS:
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name.replace('_', ' ')} must be a whole number >= 1, got {value!r}")

    @property
    def label(self) -> str:
        """The condition: ``gain``, ``gain-T4`` (4 steps), ``gain-T4i`` (with intrinsic recurrence), ``gain-BF4`` /
        ``gain-BC4`` (the one-step twin of ``gain-T4`` matched on used parameters / on compute), ``gain-BF4i`` (of
        ``gain-T4i``), ``n`` last for per-step norms (``gain-T4in``, ``gain-T1n``). Tables and figures group runs
        by it, so the steps are a factor like the mode; :func:`parse_condition` is its inverse."""
        if self.model is not None:
            return REFERENCE if self.matched_to is None else f"{REFERENCE}-matched"
        i = ("i" if self.intrinsic else "") + ("n" if self.step_norm else "")
        blocks = f"-{ANATOMY}" + (f"-{BUDGETS[self.budget]}" if self.budget != "natural" else "") \
            if self.blocks == ANATOMY else ""
        if self.twin_of is not None:
            return f"{self.mode}-{TWIN_PREFIXES[self.twin_match]}{self.twin_of}{i}{blocks}"
        if self.steps == 1 and not self.step_norm:
            return self.mode + blocks
        return f"{self.mode}-T{self.steps}{i}{blocks}"

    @property
    def recurrent(self) -> NetworkConfig:
        """The recurrent network a twin is matched to (itself for any other network)."""
        if self.twin_of is None:
            return self
        return replace(self, steps=self.twin_of, twin_of=None, twin_match="parameters")

    def condition_only(self) -> NetworkConfig:
        """This network without its input: what a sweep's condition says (the input is the data's)."""
        return replace(self, **dict.fromkeys(INPUT_FIELDS))

    def recorded_for(self, network: NetworkConfig) -> bool:
        """This config, as a run directory or checkpoint recorded it, is ``network``'s: the same condition, and the
        same input where it records one (one written before the network config was split records none; its
        architecture, which records the input, is checked by whoever has it)."""
        return self.condition_only() == network.condition_only() and all(
            getattr(self, f) is None or getattr(self, f) == getattr(network, f) for f in INPUT_FIELDS)

    def to_dict(self) -> dict[str, Any]:
        """config.json's ``network`` section (a reference model's: its name and input, no connectome setting)."""
        if self.model is not None:
            matched = {"width": self.width, "matched_to": self.matched_to} if self.matched_to is not None else {}
            return {"model": self.model, **{f: getattr(self, f) for f in INPUT_FIELDS}, **matched}
        # as every run before reference models (and, with uniform blocks, before anatomy blocks)
        out = {k: v for k, v in asdict(self).items() if k not in ("model", "width", "matched_to")}
        if self.blocks != ANATOMY:
            for k in ("blocks", "field_degrees", "anatomy", "budget", "budget_target", "units_per_rf"):
                out.pop(k)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetworkConfig:
        """A ``network`` section, or the flat ``train`` section of a config.json written before the split (which
        held mode, steps, intrinsic, step_norm, twin_of and twin_match, and no input)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def compile(self, connectome: Connectome | str | CompiledNetwork | None, architecture: ArchitectureLike = None,
                heads: Sequence[str] = ("what",), every_step: bool = False) -> NetworkSpec:
        """The network this config describes, compiled from ``connectome``: at its input, mode, steps and
        recurrence, or for a twin, the twin of the ``twin_of``-step network trained on ``heads`` (``every_step``:
        its loss reads every step). A compiled ``connectome`` passes through when it fits (else a one-line error).
        A reference model (``model``) is its :class:`~visualstreams.network.reference.ReferenceNetwork` at this
        input (``connectome`` is not read: None)."""
        if self.model is not None:
            spec = ReferenceNetwork(self.model, self.image_size or REFERENCE_SIZE, self.in_channels or 1,
                                    self.classes or 10, self.width or 1.0)
            spec.check_heads(tuple(heads))
            return spec
        if self.twin_of is not None and not isinstance(connectome, CompiledNetwork):
            recurrent = self.recurrent.compile(connectome, architecture, heads, every_step)
            if not recurrent.recurrent_projections and not recurrent.intrinsic:
                raise ConfigError(f"connectome {recurrent.connectome.name!r} has no feedback or lateral projection: "
                                  f"its {recurrent.steps}-step network is its one-step one, with nothing to match a "
                                  "twin to")
            return twin(recurrent, self.twin_match, heads, every_step)
        if self.blocks == ANATOMY and not isinstance(connectome, CompiledNetwork):
            architecture = self.derived_architecture(connectome, architecture)
        # A compiled twin is a one-step network without intrinsic recurrence of its own
        spec = compile_network(connectome, architecture, self.image_size, self.mode, self.steps,
                               in_channels=self.in_channels, classes=self.classes,
                               intrinsic=self.intrinsic and self.twin_of is None, step_norm=self.step_norm)
        if self.blocks == ANATOMY and self.budget != "natural" and not isinstance(connectome, CompiledNetwork):
            target = self.budget_target or self.uniform_budget(connectome, heads, every_step)
            spec = match_budget(spec, target, self.budget, heads, every_step)
        return spec

    def uniform_budget(self, connectome: Connectome | str, heads: Sequence[str] = ("what",),
                       every_step: bool = False) -> int:
        """What this config's budget matches, measured on ``connectome``'s uniform network at the same input, steps
        and recurrence: a sweep sets every species' ``budget_target`` to the mean of these, so that their anatomy
        networks have one budget."""
        uniform = replace(self, blocks="uniform", field_degrees=None, anatomy=None, budget="natural",
                          budget_target=None, units_per_rf=None)
        return budget_measure(uniform.compile(connectome, None, heads, every_step), self.budget, heads, every_step)

    def derived_architecture(self, connectome: Connectome | str | None,
                             architecture: ArchitectureLike = None) -> Architecture:
        """The anatomy-derived blocks of ``connectome`` at this config's input and field (``--blocks anatomy``);
        an architecture of one's own is refused with them (the blocks would be two things)."""
        if architecture is not None:
            raise ConfigError("--blocks anatomy derives every area's block: it takes no --architecture")
        if connectome is None:
            raise ConfigError("anatomy blocks are derived for a connectome")
        return derive_blocks(connectome, self.anatomy, self.image_size or 28, self.field_degrees or DEFAULT_FIELD_DEG,
                             in_channels=self.in_channels or 1,
                             units_per_rf=self.units_per_rf or UNITS_PER_RF).architecture

    def rebuild(self, connectome: Connectome, architecture: Architecture) -> CompiledNetwork:
        """The network a run directory records: its saved ``architecture`` (a twin's already widened, at the run's
        input) compiled at this config's mode, steps and recurrence; refused when the input this config records
        (none before the split) is not the architecture's."""
        spec = compile_network(connectome, architecture, mode=self.mode, steps=self.steps,
                               intrinsic=self.intrinsic and self.twin_of is None, step_norm=self.step_norm)
        what = next((h.outputs for h in spec.heads if h.name == "what"), None)
        built = {"image_size": spec.image_size, "in_channels": spec.architecture.in_channels, "classes": what}
        differ = [f for f in INPUT_FIELDS if getattr(self, f) is not None and built[f] is not None
                  and getattr(self, f) != built[f]]
        if differ:
            raise ConfigError(f"its network records {differ[0].replace('_', ' ')} {getattr(self, differ[0])}, its "
                              f"architecture {built[differ[0]]}")
        return spec


def matched_reference(reference: NetworkConfig, connectome: Connectome | str, heads: Sequence[str] = ("what",),
                      every_step: bool = False, architecture: ArchitectureLike = None) -> NetworkConfig:
    """``reference`` (a reference model at its input) widened or narrowed to the parameters that ``connectome``'s
    one-step network uses on a task of ``heads`` at the same input (:meth:`CompiledNetwork.parameters_used`; every
    layer's channels scaled alike, :func:`~visualstreams.network.reference.match_width`), within 2%."""
    if reference.model is None:
        raise ConfigError("--match-params matches a reference model (--model) to a connectome's network")
    inputs = {f: getattr(reference, f) for f in INPUT_FIELDS}
    spec = NetworkConfig(**inputs).compile(connectome, architecture, heads, every_step)
    assert isinstance(spec, CompiledNetwork)
    width = match_width(reference.model, spec.parameters_used(tuple(heads), every_step), reference.classes or 10,
                        reference.in_channels or 1, reference.image_size or REFERENCE_SIZE)
    return replace(reference, width=width, matched_to=spec.name)


def is_reference(label: Any) -> bool:
    """A condition label of a reference model's run (``reference``, ``reference-matched``)."""
    return str(label).startswith(REFERENCE)


_SUFFIX = re.compile(r"(BF|BC|T)(\d+)(i?)(n?)")


def parse_condition(label: str) -> NetworkConfig:
    """:attr:`NetworkConfig.label`'s inverse: ``NetworkConfig("gain", 4)`` from ``"gain-T4"``,
    ``NetworkConfig("gain", 1, 4, "compute")`` from ``"gain-BC4"``; a label of no such suffix is read as a mode
    of one step. An unknown mode is refused in one line, as is ``reference`` (the label does not say which).
    ``-anatomy`` last: anatomy-derived blocks (at the default field; the run's config.json has its own)."""
    for budget, letter in BUDGETS.items():
        suffix = f"-{ANATOMY}" + (f"-{letter}" if letter else "")
        if label.endswith(suffix):
            return replace(parse_condition(label[: -len(suffix)]), blocks=ANATOMY, budget=budget)
    mode, sep, tail = label.rpartition("-")
    m = _SUFFIX.fullmatch(tail) if sep and mode else None
    if m is None:
        return NetworkConfig(label)
    kind, k, i, n = m.group(1), int(m.group(2)), bool(m.group(3)), bool(m.group(4))
    if kind == "T":
        return NetworkConfig(mode, k, intrinsic=i, step_norm=n)
    return NetworkConfig(mode, 1, k, "parameters" if kind == "BF" else "compute", i, n)


def describe_condition(label: str) -> str:
    """A sentence on a run's condition for tables and reports: its mode's description, and its steps or the
    recurrent network it is the matched twin of; a label that names no network (a hand-edited table's) is said to
    be one, so a report is still written."""
    if label == REFERENCE:
        return ("one of the field's reference models (its name is in the species column), trained and scored with "
                "the same recipe, seeds and data")
    if label == f"{REFERENCE}-matched":
        return ("a reference model (its name in the species column) with every layer's channels scaled to match, "
                "within 2%, the parameters a connectome's one-step network uses on this task (config.json's "
                "network.matched_to); the same recipe, seeds and data")
    try:
        c = parse_condition(label)
    except ConfigError:
        return "not a condition this version knows (no connection mode of that name)"
    what = MODE_DESCRIPTIONS[c.mode]
    if c.blocks == ANATOMY:
        what += ("; every area's channels, map size and kernel and the species' eye derived from its anatomy "
                 "table (--blocks anatomy)" + {"natural": "", "parameters": ", scaled to the uniform network's "
                 "parameters used by the task", "compute": ", scaled to the uniform network's training FLOPs per "
                 "image"}[c.budget])
    within = ", and every area's recurrence within itself (a 3x3 convolution of its previous step)"
    normed = "; every area normalised at each step (GroupNorm)" if c.step_norm else ""
    if c.twin_of is not None:
        on = ("the parameters its task uses (Spoerer et al.'s BF)" if c.twin_match == "parameters" else
              "training FLOPs per image (Spoerer et al. 2020's compute-matched control)")
        return (f"the one-step feedforward twin of `{c.recurrent.label}`: the same connectome's feedforward "
                f"projections, areas widened to match it on {on}; {what}{normed}")
    if c.steps > 1:
        return (f"{c.steps} steps, each a feedforward sweep with the data's feedback and lateral projections from "
                f"the step before{within if c.intrinsic else ''}; {what}{normed}")
    return what + normed


__all__ = ["ANATOMY", "BLOCKS", "BUDGETS", "INPUT_FIELDS", "REFERENCE", "NetworkConfig", "NetworkSpec",
           "describe_condition", "is_reference", "matched_reference", "parse_condition"]
