"""Run and experiment configuration: one validated, typed description of a cell.

Why pydantic: a benchmark grid runs for a long time, so every user mistake
(unknown key, wrong type, out-of-range value) must be caught *before* any job
starts, with a message that names the key, the bad value and what is allowed.
The same models validate ``fedbench run`` options and the workflow config.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import reprlib
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from fedbench import algorithms, protocols
from fedbench.data import partitions
from fedbench.errors import ConfigError

# B = ∞ (McMahan et al.): the client's whole data set is one batch. It is batch_size 0
# everywhere (configs, run.json, the wire, the tables); a config file may also write it
# as ``full`` (or ``inf``, ``∞``, null).
FULL_BATCH = 0
MNIST_INPUTS = 784  # what the 2NN and the CNN take


def _registered(kind: str, names: tuple[str, ...], value: str) -> str:
    if value not in names:
        raise ValueError(f"unknown {kind} {value!r}; allowed: {', '.join(names)}")
    return value


def _protocol_name(value: str) -> str:
    return _registered("protocol", protocols.names(), value)


def _algorithm_name(value: str) -> str:
    return _registered("algorithm", algorithms.names(), value)


# Names checked against the registries (fedbench/protocols/, fedbench/algorithms/), so that a
# new module is a new allowed value with no edit here.
ProtocolName = Annotated[str, AfterValidator(_protocol_name)]
AlgorithmName = Annotated[str, AfterValidator(_algorithm_name)]
# an algorithm's hyperparameters by name (validated against the algorithm's own model)
Params = dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], float | int]


class _Strict(BaseModel):
    # strict: a YAML `rounds: true` or `lr: "0.1"` is a mistake, not a value to coerce;
    # no inf/nan: `lr: .inf` would only turn into a diverged run
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class DataConfig(_Strict):
    """Where MNIST lives (or will be fetched to) and an optional user copy."""

    root: str = Field("resources", min_length=1)  # "" would be the working directory
    mnist_dir: str | None = Field(None, min_length=1)
    # Fashion-MNIST's user copy; dumped (so digested) only when set: existing digests hold
    fashion_mnist_dir: str | None = Field(None, min_length=1, exclude_if=lambda v: v is None)


class FederationConfig(_Strict):
    """How many clients exist, how many train per round, for how many rounds."""

    num_clients: int = Field(1000, ge=2)
    clients_per_round: int = Field(10, ge=1)
    rounds: int = Field(100, ge=1)
    # end a run at the first round whose test accuracy reaches its model's published target
    # (McMahan et al.: 97 % 2NN, 99 % CNN); ``rounds`` is then the cap. Rounds to target is
    # all McMahan's metric needs, and the rounds after it are most of a grid's cost.
    stop_at_target: bool = False

    @model_validator(mode="after")
    def _per_round_fits(self) -> FederationConfig:
        if self.clients_per_round > self.num_clients:
            raise ValueError(
                f"clients_per_round={self.clients_per_round} is larger than "
                f"num_clients={self.num_clients}; allowed: 1..num_clients"
            )
        return self


def _full_batch(value: Any) -> Any:
    """``batch_size: full`` (or ``inf``, ``∞``, null) is B = ∞: ``FULL_BATCH``."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("full", "inf", "∞")):
        return FULL_BATCH
    return value


def check_stop_at_target(protocol: str, model: str) -> None:
    """``federation.stop_at_target`` needs a published target for the model in the protocol."""
    targets = protocols.get_protocol(protocol).targets
    if model not in targets:
        allowed = ", ".join(f"{m} ({t:.0%})" for m, t in targets.items()) or "none"
        raise ValueError(
            f"federation.stop_at_target=true with training.model={model!r}: protocol "
            f"{protocol} has no published target accuracy for it; allowed models: {allowed}"
        )


def check_mu(algorithm: str, mu: float) -> None:
    """mu weighs the proximal term: it must be 0 for an algorithm without one."""
    if mu != 0 and not algorithms.get_algorithm(algorithm).uses_mu:
        with_term = [a.name for a in algorithms.registry().values() if a.uses_mu]
        raise ValueError(
            f"algorithm={algorithm} with mu={mu}: {algorithm} has no proximal term; "
            f"use mu=0, or one of {', '.join(with_term)} for mu > 0"
        )


def check_params(algorithm: str, params: dict[str, float]) -> None:
    """``params`` must be hyperparameters of the algorithm, in their ranges."""
    model = algorithms.get_algorithm(algorithm).hyperparameters
    fields = model.model_fields
    allowed = ", ".join(f"{name} ({_range(field)})" for name, field in fields.items()) or "none"
    try:
        model.model_validate(params, strict=False)  # 1 for 1.0: YAML writes both
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        shown = _short(repr(params.get(key))) if key in params else ""
        raise ValueError(f"params.{key}={shown} for algorithm {algorithm}: {first['msg']}; "
                         f"{algorithm}'s params: {allowed}") from None


def _range(field: Any) -> str:
    """A field's bounds as text ("> 0", ">= 0, < 1"), from its pydantic constraints."""
    bounds = []
    for meta in field.metadata:
        for attr, sign in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            value = getattr(meta, attr, None)
            if value is not None:
                bounds.append(f"{sign} {value:g}")
    return ", ".join(bounds) or "any number"


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def variant_id(algorithm: str, mu: float, params: dict[str, float] | None = None) -> str:
    """The directory name of a variant: ``fedprox-mu2.0``, ``fedadam-mu0.0-server_lr0.01``.

    Floats are written as Python's shortest round-tripping repr, so the name reads back to
    exactly the config's values; params are sorted by key.
    """
    extra = "".join(f"-{k}{float(v)!r}" for k, v in sorted((params or {}).items()))
    return f"{algorithm}-mu{float(mu)!r}{extra}"


def _partition_name(value: str) -> str:
    return _registered("partition", partitions.names(), value)


class PartitionConfig(_Strict):
    """A split of the protocol's data over the clients (``fedbench/data/partitions/``), in
    place of the protocol's own, e.g. ``{name: dirichlet, params: {beta: 0.5}}``."""

    name: Annotated[str, AfterValidator(_partition_name)]
    params: Params = {}

    @model_validator(mode="after")
    def _params_fit_the_partitioner(self) -> PartitionConfig:
        found = partitions.get_partitioner(self.name)
        fields = found.parameters.model_fields
        allowed = ", ".join(f"{key} ({_range(field)})" for key, field in fields.items()) or "none"
        try:
            found.params(self.params)
        except ValidationError as err:
            first = err.errors()[0]
            key = ".".join(str(part) for part in first["loc"])
            value = _short(repr(self.params.get(key))) if key in self.params else ""
            raise ValueError(f"params.{key}={value} for partition {self.name}: {first['msg']}; "
                             f"{self.name}'s params: {allowed}") from None
        return self

    def label(self) -> str:
        """The partition's directory name, e.g. ``dirichlet-beta0.5-min_size10``."""
        return partitions.label(self.name, self.params)

    @classmethod
    def from_label(cls, label: str) -> PartitionConfig:
        try:
            found, params = partitions.parse(label)
        except ValueError as err:
            raise ConfigError(f"partition: {err}") from None
        return cls(name=found.name, params=params)


def check_partition(protocol: str, partition: PartitionConfig, num_clients: int) -> None:
    """A partition must fit the protocol's data and the number of clients."""
    found = protocols.get_protocol(protocol)
    if not found.partitionable:
        allowed = [p for p in protocols.names() if protocols.get_protocol(p).partitionable]
        raise ValueError(f"partition={partition.label()!r} with protocol {protocol}: its data "
                         f"({found.data}) comes with its own clients and cannot be split "
                         f"again; allowed protocols for a partition: {', '.join(allowed)}")
    partitioner = partitions.get_partitioner(partition.name)
    partitioner.check(partitioner.params(partition.params), num_clients, found.num_classes,
                      found.pool_size)


def check_model_fits_the_data(names: list[str], model: str) -> None:
    """2nn and cnn are MNIST models (784 inputs); only logistic regression takes any width
    (the Synthetic protocols have 60 features)."""
    other = [p for p in names if protocols.get_protocol(p).input_dim != MNIST_INPUTS]
    if other and model != "logreg":
        widths = sorted({protocols.get_protocol(p).input_dim for p in other})
        raise ValueError(
            f"protocol(s) {', '.join(other)} have {', '.join(map(str, widths))} features: "
            f"training.model must be logreg (got {model!r}); 2nn and cnn are MNIST models"
        )


def check_clients_fit_the_split(protocol: str, num_clients: int,
                                partition: PartitionConfig | None = None) -> None:
    """The protocol's split constrains the number of clients: at most ``max_clients`` (what the
    data can give without an empty client or a duplicated sample) and, for the power law, a
    multiple of its label groups. A ``partition`` replaces the split and brings its own
    constraints (``check_partition``)."""
    if partition is not None:
        check_partition(protocol, partition, num_clients)
        return
    found = protocols.get_protocol(protocol)
    multiple, most = found.clients_multiple_of, found.max_clients
    if num_clients > most:
        allowed = f"{max(2, multiple)}..{most}" + (f", a multiple of {multiple}"
                                                   if multiple > 1 else "")
        raise ValueError(
            f"federation.num_clients={num_clients}: protocol {protocol} can take at most "
            f"{most} clients ({found.max_clients_reason}); allowed: {allowed}"
        )
    if num_clients % multiple:
        raise ValueError(
            f"federation.num_clients={num_clients}: protocol {protocol} splits the data by a "
            f"power law with one group of clients per label, so it needs a multiple of "
            f"{multiple} (e.g. {max(multiple, num_clients // multiple * multiple)})"
        )


class TrainingConfig(_Strict):
    """Local solver settings shared by every client."""

    model: Literal["logreg", "2nn", "cnn", "simple-cnn"] = "logreg"
    local_epochs: int = Field(10, ge=1)
    # FULL_BATCH (0; "full" in a config file): the client's whole data set is one batch (B = ∞)
    batch_size: Annotated[int, Field(ge=0)] = 10
    lr: float = Field(0.03, gt=0)
    weight_decay: float = Field(0.001, ge=0)
    # heavy-ball momentum of the local SGD (torch.optim.SGD's rule); 0: plain SGD, the
    # solver of every protocol before NIID-Bench (0.9)
    momentum: float = Field(0.0, ge=0, lt=1)

    @field_validator("batch_size", mode="before")
    @classmethod
    def _batch_size_full(cls, value: Any) -> Any:
        return _full_batch(value)


class Setting(_Strict):
    """One local-training setting of a grid (McMahan et al.'s model x E x B with its lr).

    Unset fields keep the config's ``training`` values.
    """

    model: Literal["logreg", "2nn", "cnn", "simple-cnn"] | None = None
    local_epochs: int | None = Field(None, ge=1)
    batch_size: Annotated[int, Field(ge=0)] | None = None  # FULL_BATCH ("full"): B = ∞
    lr: float | None = Field(None, gt=0)

    @field_validator("batch_size", mode="before")
    @classmethod
    def _batch_size_full(cls, value: Any) -> Any:
        return None if value is None else _full_batch(value)

    def label(self, base: TrainingConfig) -> str:
        """The setting's directory name, e.g. ``cnn-E5-B10-lr0.1`` (B∞ for the full batch)."""
        t = self.apply(base)
        batch = "inf" if t.batch_size == FULL_BATCH else str(t.batch_size)
        return f"{t.model}-E{t.local_epochs}-B{batch}-lr{t.lr!r}"

    @classmethod
    def from_label(cls, label: str) -> Setting:
        """The setting a label names (``label`` is its exact inverse), e.g. cnn-E5-Binf-lr0.1."""
        match = re.fullmatch(r"(\w+)-E(\d+)-B(\d+|inf)-lr(.+)", label)
        if match is None:
            raise ConfigError(f"setting: {label!r} is not a setting label "
                              "(<model>-E<epochs>-B<batch|inf>-lr<lr>, e.g. cnn-E5-B10-lr0.1)")
        model, epochs, batch, lr = match.groups()
        try:
            return cls(model=model, local_epochs=int(epochs), lr=float(lr),
                       batch_size=FULL_BATCH if batch == "inf" else int(batch))
        except (ValidationError, ValueError) as err:
            raise ConfigError(f"setting: {label!r} names an invalid setting ({err})") from None

    def apply(self, base: TrainingConfig) -> TrainingConfig:
        update: dict[str, Any] = {k: v for k, v in (("model", self.model),
                                                    ("local_epochs", self.local_epochs),
                                                    ("lr", self.lr)) if v is not None}
        if self.batch_size is not None:
            update["batch_size"] = self.batch_size
        return TrainingConfig.model_validate({**base.model_dump(), **update})


class RuntimeConfig(_Strict):
    """How the cell is executed; none of these may change the numbers."""

    backend: Literal["inprocess", "ray"] = "inprocess"
    device: Literal["cpu", "cuda"] = "cpu"
    threads: int = Field(1, ge=1)
    checkpoint_every: int = Field(10, ge=0)  # rounds between checkpoints; 0 = never


class RunConfig(_Strict):
    """Everything that defines one grid cell: the unit `fedbench run` executes."""

    name: str = "fedprox-mnist"
    protocol: ProtocolName = "flower-baseline"
    algorithm: AlgorithmName = "fedprox"
    mu: float = Field(0.0, ge=0)
    # the algorithm's own hyperparameters (fedbench/algorithms/<name>.py), unset ones at
    # their defaults, e.g. {server_lr: 0.01} for fedadam
    params: Params = {}
    stragglers: float = Field(0.0, ge=0, le=1)
    seed: int = Field(0, ge=0)
    # a split from fedbench/data/partitions/ in place of the protocol's own; None: the protocol's
    partition: PartitionConfig | None = None
    data: DataConfig = DataConfig()
    federation: FederationConfig = FederationConfig()
    training: TrainingConfig = TrainingConfig()
    runtime: RuntimeConfig = RuntimeConfig()

    @model_validator(mode="after")
    def _mu_needs_a_proximal_term(self) -> RunConfig:
        check_mu(self.algorithm, self.mu)
        return self

    @model_validator(mode="after")
    def _params_fit_the_algorithm(self) -> RunConfig:
        check_params(self.algorithm, self.params)
        return self

    def variant(self) -> str:
        """The cell's variant, as its directory names it (``variant_id``)."""
        return variant_id(self.algorithm, self.mu, self.params)

    @model_validator(mode="after")
    def _clients_fit_the_split(self) -> RunConfig:
        check_clients_fit_the_split(self.protocol, self.federation.num_clients, self.partition)
        return self

    def partition_label(self) -> str:
        """The partition's label, "" for the protocol's own split."""
        return "" if self.partition is None else self.partition.label()

    @model_validator(mode="after")
    def _model_fits_the_data(self) -> RunConfig:
        check_model_fits_the_data([self.protocol], self.training.model)
        return self

    @model_validator(mode="after")
    def _target_exists(self) -> RunConfig:
        if self.federation.stop_at_target:
            check_stop_at_target(self.protocol, self.training.model)
        return self

    def target_accuracy(self) -> float | None:
        """The accuracy that ends this run early (``federation.stop_at_target``), else None."""
        if not self.federation.stop_at_target:
            return None
        return protocols.get_protocol(self.protocol).targets[self.training.model]

    def digest(self) -> str:
        """Short hash of the numbers-defining settings (runtime excluded).

        ``stop_at_target`` and ``params`` enter only when set, so the digests of runs made
        before those options existed (checkpoints, provenance) stay valid.
        """
        payload = self.model_dump(exclude={"runtime"})
        if not self.federation.stop_at_target:
            del payload["federation"]["stop_at_target"]
        if not self.params:
            del payload["params"]
        if not self.training.momentum:
            del payload["training"]["momentum"]
        if self.partition is None:
            del payload["partition"]
        blob = json.dumps(payload, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


class Variant(_Strict):
    """One algorithm line of the published figure, e.g. FedProx with mu=2, or FedAdam with
    a server learning rate of 0.01 (``params``)."""

    algorithm: AlgorithmName
    mu: float = Field(0.0, ge=0)
    params: Params = {}

    @model_validator(mode="after")
    def _mu_needs_a_proximal_term(self) -> Variant:
        check_mu(self.algorithm, self.mu)
        return self

    @model_validator(mode="after")
    def _params_fit_the_algorithm(self) -> Variant:
        check_params(self.algorithm, self.params)
        return self

    def id(self) -> str:
        return variant_id(self.algorithm, self.mu, self.params)


class GridConfig(_Strict):
    """The experiment grid the workflow expands: [protocols x] variants x stragglers x seeds.

    ``protocols`` (optional) makes the protocol a grid axis, e.g. the four
    Synthetic(α, β) datasets in one config; without it every cell runs the
    config's ``protocol``.
    """

    protocols: list[ProtocolName] | None = Field(None, min_length=1)
    # optional heterogeneity axis: splits from fedbench/data/partitions/ in place of the
    # protocol's own (e.g. #C=1, #C=2, Dir(0.5)); None: the config's ``partition``
    partitions: list[PartitionConfig] | None = Field(None, min_length=1)
    # optional local-training axis (model, E, B, lr per setting); None: the config's training
    settings: list[Setting] | None = Field(None, min_length=1)
    variants: list[Variant] = Field(min_length=1)
    # every value checked, not only the cell `fedbench run` picks
    stragglers: list[Annotated[float, Field(ge=0, le=1)]] = Field(min_length=1)
    seeds: list[Annotated[int, Field(ge=0)]] = Field(min_length=1)


class ExperimentConfig(_Strict):
    """A config file: the base run settings plus the grid to expand."""

    name: str = "fedprox-mnist"
    protocol: ProtocolName = "flower-baseline"
    partition: PartitionConfig | None = None
    data: DataConfig = DataConfig()
    federation: FederationConfig = FederationConfig()
    training: TrainingConfig = TrainingConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    grid: GridConfig | None = None
    results_dir: str = "results"
    reports_dir: str = "reports"

    @model_validator(mode="after")
    def _models_fit_the_data(self) -> ExperimentConfig:
        check_model_fits_the_data(self.protocols(), self.training.model)
        return self

    @model_validator(mode="after")
    def _clients_fit_every_split(self) -> ExperimentConfig:
        for protocol in self.protocols():
            for partition in self.partitions().values():
                check_clients_fit_the_split(protocol, self.federation.num_clients, partition)
        return self

    @model_validator(mode="after")
    def _targets_exist(self) -> ExperimentConfig:
        # (without a settings axis, e.g. the workflow's run_config.yaml, each cell checks
        # its own model: a --setting label may change it)
        if self.federation.stop_at_target:
            for training in self.settings().values():
                for protocol in self.protocols():
                    check_stop_at_target(protocol, training.model)
        return self

    def check_workflow(self) -> None:
        """What only a whole workflow grid needs (the cells are checked on their own)."""
        if self.federation.stop_at_target and not self.settings():
            raise ConfigError(
                "federation.stop_at_target=true needs a grid.settings axis: runs that end "
                "early are reported as rounds to target (fedbench targets), not averaged "
                "over their last rounds; allowed without one: false"
            )

    def cell(
        self, algorithm: str, mu: float, stragglers: float, seed: int, protocol: str | None = None,
        setting: str | None = None, params: dict[str, float] | None = None,
        partition: str | None = None,
    ) -> RunConfig:
        """The run config of one grid cell (validated); ``protocol`` overrides the config's,
        ``setting`` (a label of ``grid.settings``) its training settings, ``partition`` (a
        label of ``grid.partitions``; "" for the protocol's own split) its partition."""
        base = self.model_dump(exclude={"grid", "results_dir", "reports_dir"})
        if protocol is not None:
            base["protocol"] = protocol
        if partition is not None:
            base["partition"] = (None if partition == "" else
                                 self.partition_named(partition).model_dump())
        if setting is not None:
            base["training"] = self.setting(setting).model_dump()
        return validate_run_config(
            {**base, "algorithm": algorithm, "mu": mu, "params": dict(params or {}),
             "stragglers": stragglers, "seed": seed}
        )

    def settings(self) -> dict[str, TrainingConfig]:
        """Label -> training settings of the grid's settings axis (empty without one)."""
        if self.grid is None or not self.grid.settings:
            return {}
        return {s.label(self.training): s.apply(self.training) for s in self.grid.settings}

    def setting(self, label: str) -> TrainingConfig:
        """The training settings a label names: one of the grid's settings or, for a config
        without a settings axis (the workflow's run_config.yaml), the label itself."""
        settings = self.settings()
        if not settings:
            return Setting.from_label(label).apply(self.training)
        if label not in settings:
            raise ConfigError(f"setting: unknown label {label!r}; allowed: {', '.join(settings)}")
        return settings[label]

    def partitions(self) -> dict[str, PartitionConfig | None]:
        """Label -> partition of the grid's partitions axis, else the config's one partition
        (label "" and None for the protocol's own split)."""
        if self.grid is not None and self.grid.partitions:
            return {p.label(): p for p in self.grid.partitions}
        return {"" if self.partition is None else self.partition.label(): self.partition}

    def partition_named(self, label: str) -> PartitionConfig:
        """The partition a label names: one of the grid's, or (for a config without a
        partitions axis, e.g. the workflow's run_config.yaml) the label itself."""
        known = self.partitions()
        if label in known and known[label] is not None:
            return known[label]  # type: ignore[return-value]
        if self.grid is not None and self.grid.partitions:
            raise ConfigError(f"partition: unknown label {label!r}; allowed: "
                              f"{', '.join(known)}")
        return PartitionConfig.from_label(label)

    def protocols(self) -> list[str]:
        """The protocols this experiment runs: the grid's axis, else the config's protocol."""
        if self.grid is not None and self.grid.protocols:
            return sorted(set(self.grid.protocols))
        return [self.protocol]


def workflow_schema(template: dict[str, Any]) -> dict[str, Any]:
    """The workflow's JSON Schema: ``template`` (workflow/schemas/config.schema.yaml) with the
    registries' names as the enums of ``protocol``, ``grid.protocols`` and the variants'
    ``algorithm``, and mu bounded to 0 for every algorithm without a proximal term.

    Generated rather than written down, so that a new algorithm or protocol module is
    accepted by ``snakemake`` exactly as by ``fedbench run``.
    """
    schema = copy.deepcopy(template)
    props = schema["properties"]
    grid = props["grid"]["properties"]
    variant = grid["variants"]["items"]
    props["protocol"]["enum"] = list(protocols.names())
    grid["protocols"]["items"]["enum"] = list(protocols.names())
    variant["properties"]["algorithm"]["enum"] = list(algorithms.names())
    schema["$defs"]["partition"]["properties"]["name"]["enum"] = list(partitions.names())
    without_mu = [a.name for a in algorithms.registry().values() if not a.uses_mu]
    if without_mu:
        variant["if"] = {"properties": {"algorithm": {"enum": without_mu}}}
        variant["then"] = {"properties": {"mu": {
            "maximum": 0,
            "description": f"{', '.join(without_mu)} "
                           f"{'has' if len(without_mu) == 1 else 'have'} no proximal term: "
                           "mu must be 0"}}}
    return schema


def _submodel(annotation: Any) -> type[BaseModel] | None:
    """The model class inside a field's annotation (``X``, ``X | None``, ``list[X]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _submodel(arg)
        if found is not None:
            return found
    return None


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """The keys allowed where ``loc`` (an unknown key's location) points."""
    node: type[BaseModel] | None = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue  # a list index: same model
        field = node.model_fields.get(str(part)) if node is not None else None
        node = _submodel(field.annotation) if field is not None else None
    return sorted(node.model_fields) if node is not None else []


def _is_number_text(value: Any) -> bool:
    """A number that YAML read as text: ``"0.5"`` (quoted) or ``1e-3`` (YAML 1.1 reads a float
    without a decimal point as a string)."""
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return isinstance(value, str)


def number_text_hint(value: str, integer: bool = False) -> str:
    """What to write instead of a number that YAML read as text (``_is_number_text``)."""
    if integer and re.fullmatch(r"\s*[-+]?[0-9]+[eE][-+]?[0-9]+\s*", value):
        return f"YAML reads {value} as text: write the whole number in digits"
    if re.fullmatch(r"\s*[-+]?[0-9]+[eE][-+]?[0-9]+\s*", value):
        return (f"YAML reads {value} as text (an exponent without a decimal point): write it "
                "with a decimal point, e.g. 1.0e-3")
    return f"this is the text {shown(value)}, not a number: write the number without quotes"


_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxstring, _SHOWN.maxother = 2, 60, 60
_SHOWN.maxlist = _SHOWN.maxtuple = _SHOWN.maxdict = _SHOWN.maxset = 4
SHOWN_MAX = 100  # characters of a value echoed in a message


def shown(value: Any) -> str:
    """``repr`` of a value for a message, bounded (``SHOWN_MAX`` characters, a few items per
    level, two levels): a config that expands to millions of values through YAML anchors and
    aliases, or one huge string, is never echoed whole."""
    text = _SHOWN.repr(value)
    return text if len(text) <= SHOWN_MAX else text[: SHOWN_MAX - 3] + "..."


def _format_errors(err: ValidationError, model: type[BaseModel]) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "<config>"
        msg, hint = e["msg"], ""
        if e["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, tuple(e["loc"]))
            msg = "unknown key"
            hint = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        value = e.get("input")
        if e["type"] in ("float_type", "int_type") and _is_number_text(value):
            hint = f"; {number_text_hint(value, integer=e['type'] == 'int_type')}"
        got = "" if isinstance(value, dict) else f" (got {shown(value)})"
        lines.append(f"  {key}: {msg[:300]}{got}{hint}")
    if len(lines) > MAX_ERRORS:
        lines = [*lines[:MAX_ERRORS], f"  ... and {len(lines) - MAX_ERRORS} more"]
    return "\n".join(lines)


def _validate(model: type[BaseModel], data: Any, source: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: expected a mapping of keys to values, got {type(data).__name__}"
        )
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(
            f"invalid configuration in {source}:\n{_format_errors(err, model)}"
        ) from None


def validate_run_config(data: dict[str, Any], source: str = "run options") -> RunConfig:
    return _validate(RunConfig, data, source)


def validate_experiment(data: Any, source: str = "config") -> ExperimentConfig:
    return _validate(ExperimentConfig, data, source)


MAX_ERRORS = 20  # lines of a config error message; the rest are counted
MAX_VALUES = 100_000  # values a config may hold, every alias counted as often as it is used


class DuplicateKey(yaml.YAMLError):
    """A mapping of a YAML file gives one key twice."""


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (PyYAML keeps the last
    one silently, so a config could say two things and mean one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: the base class says so
                break
            if first is not None:
                raise DuplicateKey(f"key {shown(key)} is given twice (lines {first.line + 1} "
                                   f"and {key_node.start_mark.line + 1}); keep one")
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def check_expanded_size(data: Any, source: str, limit: int = MAX_VALUES) -> None:
    """Refuse a config that holds more than ``limit`` values once its YAML aliases are
    expanded (a few hundred bytes of nested anchors can stand for billions of values, which
    every later step that walks or prints the config would expand): ConfigError, quickly."""
    count, stack = 0, [data]
    while stack:
        node = stack.pop()
        count += 1
        if count > limit:
            raise ConfigError(
                f"{source}: holds more than {limit:,} values once its YAML anchors and aliases "
                "are expanded; a fedbench config has a few dozen (a `*alias` repeated inside "
                "nested lists multiplies)")
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list | tuple):
            stack.extend(node)


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file, turning I/O and syntax problems into ConfigError; a key given twice
    and a file that expands beyond ``MAX_VALUES`` values are refused."""
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {p} is not valid YAML: not UTF-8 text") from None
    try:
        data = yaml.load(text, Loader=StrictLoader)  # a SafeLoader: no tags that run code
    except DuplicateKey as exc:
        raise ConfigError(f"config file {p}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {p} is not valid YAML: {str(exc)[:1000]}") from None
    check_expanded_size(data, f"config file {p}")
    return {} if data is None else data


def load_experiment(path: str | Path) -> ExperimentConfig:
    return validate_experiment(read_yaml(path), source=str(path))


def set_nested(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c`` in a nested dict, creating levels as needed."""
    *parents, leaf = dotted.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value
