"""Run and experiment configuration: one validated, typed description of a cell.

Why pydantic: a benchmark grid runs for a long time, so every user mistake
(unknown key, wrong type, out-of-range value) must be caught *before* any job
starts, with a message that names the key, the bad value and what is allowed.
The same models validate ``fedbench run`` options and the workflow config.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

ALGORITHMS = ("fedavg", "fedprox")
PROTOCOLS = ("flower-baseline",)
MODELS = ("logreg",)
BACKENDS = ("inprocess", "ray")
DEVICES = ("cpu", "cuda")


class ConfigError(ValueError):
    """A user-facing configuration mistake; the CLI prints it and exits with code 2."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Strict):
    """Where MNIST lives (or will be fetched to) and an optional user copy."""

    root: str = "resources"
    mnist_dir: str | None = None


class FederationConfig(_Strict):
    """How many clients exist, how many train per round, for how many rounds."""

    num_clients: int = Field(1000, ge=2)
    clients_per_round: int = Field(10, ge=1)
    rounds: int = Field(100, ge=1)

    @model_validator(mode="after")
    def _per_round_fits(self) -> FederationConfig:
        if self.clients_per_round > self.num_clients:
            raise ValueError(
                f"clients_per_round={self.clients_per_round} is larger than "
                f"num_clients={self.num_clients}; allowed: 1..num_clients"
            )
        return self


class TrainingConfig(_Strict):
    """Local solver settings shared by every client."""

    model: Literal["logreg"] = "logreg"
    local_epochs: int = Field(10, ge=1)
    batch_size: int = Field(10, ge=1)
    lr: float = Field(0.03, gt=0)
    weight_decay: float = Field(0.001, ge=0)


class RuntimeConfig(_Strict):
    """How the cell is executed; none of these may change the numbers."""

    backend: Literal["inprocess", "ray"] = "inprocess"
    device: Literal["cpu", "cuda"] = "cpu"
    threads: int = Field(1, ge=1)
    checkpoint_every: int = Field(10, ge=0)  # rounds between checkpoints; 0 = never


class RunConfig(_Strict):
    """Everything that defines one grid cell: the unit `fedbench run` executes."""

    name: str = "fedprox-mnist"
    protocol: Literal["flower-baseline"] = "flower-baseline"
    algorithm: Literal["fedavg", "fedprox"] = "fedprox"
    mu: float = Field(0.0, ge=0)
    stragglers: float = Field(0.0, ge=0, le=1)
    seed: int = Field(0, ge=0)
    data: DataConfig = DataConfig()
    federation: FederationConfig = FederationConfig()
    training: TrainingConfig = TrainingConfig()
    runtime: RuntimeConfig = RuntimeConfig()

    @model_validator(mode="after")
    def _fedavg_has_no_mu(self) -> RunConfig:
        if self.algorithm == "fedavg" and self.mu != 0:
            raise ValueError(
                f"algorithm=fedavg with mu={self.mu}: FedAvg has no proximal term; "
                "use algorithm=fedprox for mu > 0"
            )
        return self

    def digest(self) -> str:
        """Short hash of the numbers-defining settings (runtime excluded)."""
        payload = self.model_dump(exclude={"runtime"})
        blob = json.dumps(payload, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


class Variant(_Strict):
    """One algorithm line of the published figure, e.g. FedProx with mu=2."""

    algorithm: Literal["fedavg", "fedprox"]
    mu: float = Field(0.0, ge=0)


class GridConfig(_Strict):
    """The experiment grid the workflow expands: variants x stragglers x seeds."""

    variants: list[Variant] = Field(min_length=1)
    stragglers: list[float] = Field(min_length=1)
    seeds: list[int] = Field(min_length=1)


class ExperimentConfig(_Strict):
    """A config file: the base run settings plus the grid to expand."""

    name: str = "fedprox-mnist"
    protocol: Literal["flower-baseline"] = "flower-baseline"
    data: DataConfig = DataConfig()
    federation: FederationConfig = FederationConfig()
    training: TrainingConfig = TrainingConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    grid: GridConfig | None = None
    results_dir: str = "results"
    reports_dir: str = "reports"

    def cell(self, algorithm: str, mu: float, stragglers: float, seed: int) -> RunConfig:
        """The run config of one grid cell (validated)."""
        base = self.model_dump(exclude={"grid", "results_dir", "reports_dir"})
        return validate_run_config(
            {**base, "algorithm": algorithm, "mu": mu, "stragglers": stragglers, "seed": seed}
        )


def _format_errors(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "<config>"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        value = e.get("input")
        shown = "" if isinstance(value, dict) else f" (got {value!r})"
        lines.append(f"  {key}: {msg}{shown}")
    return "\n".join(lines)


def _validate(model: type[BaseModel], data: Any, source: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: expected a mapping of keys to values, got {type(data).__name__}"
        )
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"invalid configuration in {source}:\n{_format_errors(err)}") from None


def validate_run_config(data: dict[str, Any], source: str = "run options") -> RunConfig:
    return _validate(RunConfig, data, source)


def validate_experiment(data: Any, source: str = "config") -> ExperimentConfig:
    return _validate(ExperimentConfig, data, source)


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file, turning I/O and syntax problems into ConfigError."""
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {p} is not valid YAML: {exc}") from None
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
