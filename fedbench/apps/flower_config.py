"""The run config of ``flwr run``: fedbench's keys, and Flower's FedProx baseline's keys.

``flwr run .`` hands the ServerApp the keys of pyproject's ``[tool.flwr.app.config]``, with
the values given by ``--run-config`` (key=value pairs or a TOML file). fedbench's own keys
name a cell as ``fedbench run`` does: ``config-file``, ``algorithm``, ``mu``, ``stragglers``,
``seed``, ``rounds``, ``out``.

Flower's FedProx baseline (``baselines/fedprox`` of the Flower repository) names the same
settings differently, e.g. ``algorithm.num-server-rounds`` and
``algorithm.stragglers-fraction`` (its ``[tool.flwr.app.config.algorithm]`` table), and its
per-experiment files ``conf/mnist/*.toml`` set them. A SuperLink refuses any key that the
app's pyproject does not declare, with nothing but "Invalid run configuration", so
pyproject declares every key of the baseline (``""`` meaning "not given") and this module
maps each one given to fedbench's setting (``FLOWER_KEYS``):

- the baseline's keys, dotted as Flower flattens its tables (``algorithm.mu``,
  ``fit.drop-client``, ``dataset.batch-size``, ...);
- the keys of its ``algorithm`` table without the prefix too (``num-server-rounds``,
  ``stragglers-fraction``, ...), as Flower's app templates name them (not ``name`` and
  ``mu``: ``algorithm`` and ``mu`` are fedbench's own keys).

A key that sets something fedbench has (rounds, straggler rate, μ, algorithm, epochs,
learning rate, batch size, clients) overrides it; a key that describes the baseline's fixed
setup (its dataset, split and model, which fedbench's ``flower-baseline`` protocol
reproduces) is accepted with the baseline's value and refused with another, naming what
fedbench does instead; the baseline's client-count thresholds have no counterpart and are
accepted without effect. Every mapping applied is reported in one line per key.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fedbench.algorithms import get_algorithm, names
from fedbench.config import RunConfig, load_experiment, set_nested, validate_run_config
from fedbench.errors import ConfigError

NOT_GIVEN = ""  # pyproject's value of a Flower key nobody set

# fedbench's own keys and the values a run gets when they are absent (pyproject sets them)
FEDBENCH_KEYS: dict[str, Any] = {
    "config-file": "configs/default.yaml",
    "algorithm": "fedprox",
    "mu": 0.0,
    "stragglers": 0.0,
    "seed": 0,
    "rounds": None,  # None: the config file's federation.rounds
    "out": "results/flwr-run",
}

# fedbench's setting a Flower key can map to: a cell key of the run config, or a config key
_CELL = ("algorithm", "mu", "stragglers", "seed", "rounds")


def _int(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ConfigError(f"run config {key}={value!r}: expected a whole number")
    return int(value)


def _float(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"run config {key}={value!r}: expected a number")
    return float(value)


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"run config {key}={value!r}: expected true or false")
    return value


def _model(key: str, value: Any) -> str:
    if str(value).lower() in ("logisticregression", "logreg"):
        return "logreg"
    raise ConfigError(f"run config {key}={value!r}: fedbench's model for the Flower baseline "
                      "is LogisticRegression (training.model: logreg); other models are set "
                      "with training.model in the config file")


# Flower's algorithm names (its `algorithm.name` is a label; `fit.drop-client` decides)
_FLOWER_ALGORITHMS = {"fedavg": "fedavg", "fedprox": "fedprox"}


def _algorithm(key: str, value: Any) -> str:
    name = str(value).lower()
    if name in _FLOWER_ALGORITHMS:
        return _FLOWER_ALGORITHMS[name]
    if name in names():
        return name
    raise ConfigError(f"run config {key}={value!r}: unknown algorithm; allowed: FedAvg, "
                      f"FedProx or one of fedbench's: {', '.join(names())}")


@dataclass(frozen=True)
class FlowerKey:
    """One key of Flower's baseline: fedbench's setting it maps to (``target``, with
    ``convert``), or, when ``target`` is None, the values it is accepted with (``fixed``;
    empty: any value, without effect) and why."""

    target: str | None
    convert: Callable[[str, Any], Any] | None = None
    fixed: tuple[Any, ...] = ()
    why: str = ""


_SAMPLE_THRESHOLD = ("fedbench's server draws each round's clients from the partitions, "
                     "whatever number of SuperNodes is connected")
_ALGORITHM_TABLE: dict[str, FlowerKey] = {
    "name": FlowerKey("algorithm", _algorithm),
    "num-server-rounds": FlowerKey("rounds", _int),
    "stragglers-fraction": FlowerKey("stragglers", _float),
    "mu": FlowerKey("mu", _float),
    "local-epochs": FlowerKey("training.local_epochs", _int),
    "learning-rate": FlowerKey("training.lr", _float),
    "num-clients": FlowerKey("federation.num_clients", _int),
    "fraction-fit": FlowerKey("federation.clients_per_round", _float),  # × num_clients
    "fraction-evaluate": FlowerKey(None, fixed=(0, 0.0), why=(
        "fedbench evaluates the global model centrally after every round, as the baseline "
        "does with fraction-evaluate = 0")),
    "min-evaluate-clients": FlowerKey(None, why=_SAMPLE_THRESHOLD),
    "min-available-clients": FlowerKey(None, why=_SAMPLE_THRESHOLD),
    "min-fit-clients": FlowerKey(None, why=_SAMPLE_THRESHOLD),
}
_SPLIT = ("fedbench's protocol flower-baseline reproduces the baseline's split; another "
          "split is another protocol (the config file's `protocol:`)")
FLOWER_KEYS: dict[str, FlowerKey] = {
    **{f"algorithm.{key}": spec for key, spec in _ALGORITHM_TABLE.items()},
    # the same without the table's prefix (but name and mu, which are fedbench's own words)
    **{key: spec for key, spec in _ALGORITHM_TABLE.items() if key not in ("name", "mu")},
    "fit.drop-client": FlowerKey("drop-client", _bool),
    "dataset.batch-size": FlowerKey("training.batch_size", _int),
    "batch-size": FlowerKey("training.batch_size", _int),
    "dataset.seed": FlowerKey("seed", _int),
    "model.name": FlowerKey("training.model", _model),
    "dataset.path": FlowerKey(None, fixed=("ylecun/mnist",), why=(
        "fedbench reads the same MNIST from data.root (`fedbench data mnist`)")),
    "dataset.power-law": FlowerKey(None, fixed=(True,), why=_SPLIT),
    "dataset.num-unique-labels-per-partition": FlowerKey(None, fixed=(2,), why=_SPLIT),
    "dataset.num-unique-labels": FlowerKey(None, fixed=(10,), why=_SPLIT),
    "dataset.preassigned-num-samples-per-label": FlowerKey(None, fixed=(5,), why=_SPLIT),
    "dataset.sigma": FlowerKey(None, fixed=(2, 2.0), why=_SPLIT),
    "dataset.val-ratio": FlowerKey(None, fixed=(0.1,), why=_SPLIT),
    "dataset.mu": FlowerKey(None, why=(
        "it is the log-normal mean of the baseline's partition weights, which cancels when "
        "they are normalised (PROTOCOLS.md section 1)")),
    "model.num-classes": FlowerKey(None, fixed=(10,), why="MNIST has 10 classes"),
}


@dataclass(frozen=True)
class FlowerCell:
    """What a ``flwr run`` run config names: the cell, where it writes, and how Flower's keys
    were read (one line each, for the log)."""

    config: RunConfig
    out: Path
    notes: tuple[str, ...]


def _given(run_config: Mapping[str, Any]) -> dict[str, Any]:
    """The Flower keys given a value, checked: unknown keys are refused."""
    unknown = sorted(set(run_config) - set(FEDBENCH_KEYS) - set(FLOWER_KEYS))
    if unknown:
        raise ConfigError(
            f"run config: unknown key(s) {', '.join(unknown)}; fedbench's keys are "
            f"{', '.join(FEDBENCH_KEYS)}, and Flower's FedProx baseline's keys are accepted "
            f"too: {', '.join(sorted(FLOWER_KEYS))}")
    return {k: v for k, v in run_config.items() if k in FLOWER_KEYS and v != NOT_GIVEN}


def resolve(run_config: Mapping[str, Any]) -> FlowerCell:
    """The cell a ``flwr run`` run config names (fedbench's keys, then Flower's on top)."""
    own = {key: run_config.get(key, default) for key, default in FEDBENCH_KEYS.items()}
    cell: dict[str, Any] = {k: own[k] for k in _CELL}
    overrides: dict[str, Any] = {}
    notes: list[str] = []
    source: dict[str, str] = {}  # fedbench setting -> the Flower key that set it
    for key, value in sorted(_given(run_config).items()):
        spec = FLOWER_KEYS[key]
        if spec.target is None:
            if spec.fixed and value not in spec.fixed:
                raise ConfigError(
                    f"run config {key}={value!r}: fedbench runs the Flower baseline's "
                    f"{key} = {spec.fixed[0]!r} only; {spec.why}")
            effect = "the same here" if spec.fixed else "no effect here"
            notes.append(f"{key}={value!r} (Flower baseline): {effect}: {spec.why}")
            continue
        converted = spec.convert(key, value) if spec.convert else value
        if spec.target in source:
            other = source[spec.target]
            earlier = (cell | overrides).get(spec.target)
            if earlier != converted:
                raise ConfigError(f"run config: {other} and {key} both set {spec.target}, to "
                                  f"different values ({earlier!r}, {converted!r}); give one")
            continue
        source[spec.target] = key
        (cell if spec.target in _CELL else overrides)[spec.target] = converted
        if spec.target != "drop-client":  # reported with the algorithm it decides
            notes.append(f"{key}={value!r} (Flower baseline) -> {spec.target}={converted!r}")

    _algorithm_and_mu(cell, overrides, source, notes)
    experiment = load_experiment(str(own["config-file"]))
    cfg = experiment.cell(str(cell["algorithm"]), _float("mu", cell["mu"]),
                          _float("stragglers", cell["stragglers"]), _int("seed", cell["seed"]))
    payload = cfg.model_dump()
    if cell["rounds"] is not None:
        set_nested(payload, "federation.rounds", _int("rounds", cell["rounds"]))
    fraction = overrides.pop("federation.clients_per_round", None)
    for dotted, value in overrides.items():
        set_nested(payload, dotted, value)
    if fraction is not None:
        payload["federation"]["clients_per_round"] = _per_round(
            source["federation.clients_per_round"], fraction,
            payload["federation"]["num_clients"])
    config = validate_run_config(payload, source="flwr run's run config")
    return FlowerCell(config, Path(str(own["out"])), tuple(notes))


def _algorithm_and_mu(cell: dict[str, Any], overrides: dict[str, Any], source: dict[str, str],
                      notes: list[str]) -> None:
    """Flower's algorithm name, ``fit.drop-client`` and μ as fedbench's algorithm and μ.

    In the baseline, ``fit.drop-client`` decides what happens to stragglers (true: their
    updates are dropped, fedbench's fedavg; false: their partial work is kept, fedbench's
    fedprox, which with μ = 0 is FedAvg keeping partial work) and ``algorithm.name`` is a
    label. An algorithm set by a Flower key without Flower's μ has μ = 0 when it has no
    proximal term (as ``fedbench run --algorithm`` does).
    """
    drop = overrides.pop("drop-client", None)
    named = "algorithm" in source
    if drop is not None:
        key = source.pop("drop-client")
        if drop and cell["algorithm"] != "fedavg":
            if named:
                raise ConfigError(
                    f"run config {key}=true with {source['algorithm']}="
                    f"{cell['algorithm']!r}: fedbench's {cell['algorithm']} keeps the "
                    "stragglers' partial work; dropping it is fedbench's fedavg "
                    "(algorithm.name = \"FedAvg\", mu = 0)")
            cell["algorithm"] = "fedavg"
        elif not drop and cell["algorithm"] == "fedavg":
            cell["algorithm"] = "fedprox"  # FedAvg keeping partial work: fedprox with μ = 0
        source.setdefault("algorithm", key)
        named = True
        notes.append(f"{key}={str(drop).lower()} (Flower baseline) -> algorithm="
                     f"{cell['algorithm']!r} (stragglers' updates "
                     f"{'dropped' if drop else 'kept'})")
    if named and "mu" not in source and not get_algorithm(str(cell["algorithm"])).uses_mu:
        cell["mu"] = 0.0


def _per_round(key: str, fraction: float, num_clients: int) -> int:
    """Flower's ``fraction-fit`` of ``num_clients`` as a whole number of clients per round."""
    count = fraction * num_clients
    if not 0 < fraction <= 1 or abs(count - round(count)) > 1e-6 or round(count) < 1:
        raise ConfigError(
            f"run config {key}={fraction!r}: with {num_clients} clients this is "
            f"{count:g} clients per round; fedbench needs a whole number of at least 1 "
            "(federation.clients_per_round)")
    return round(count)
