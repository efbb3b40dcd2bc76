# Helpers shared by all rules -- config validation, the grid of cells, paths, and the
# digests that make code and settings changes rerun the cells they affect.
# (No rules in this file: snakemake --lint wants functions and rules in separate files.)

import importlib.metadata
import os
import tempfile
import re
import shlex
import sys
from pathlib import Path

import jsonschema
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config, validate

# --- the config -----------------------------------------------------------------------------
# 0. `--config key=value` reads nested values as strings (federation="{rounds: 7}" gives
#    rounds '7'); read them as they would be read from the config file.
def _as_yaml(value):
    if isinstance(value, dict):
        return {k: _as_yaml(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_yaml(v) for v in value]
    if isinstance(value, str) and value:
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            return value
    return value


# (Only `--config` values: a --configfile's `rounds: '3'` stays the string it is, and is refused.)
for _key, _value in (workflow.config_settings.config or {}).items():
    if isinstance(_value, (dict, list)):
        update_config(config, {_key: _as_yaml(_value)})

# A config mistake stops here, before any job, as `fedbench run` does: the message (key, bad
# value, what is allowed) on stderr, no traceback, exit code 2.
def _refuse(message):
    print(f"snakemake: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _is_float_text(err):
    """A number was expected and got e.g. "1e-3": YAML 1.1 reads floats without "." as text."""
    expected = err.validator_value
    expected = expected if isinstance(expected, list) else [expected]
    try:
        float(err.instance)
    except (TypeError, ValueError):
        return False
    return isinstance(err.instance, str) and ("number" in expected or "integer" in expected)


# 1. JSON Schema: unknown keys, wrong types, out-of-range values; fills in defaults.
def _schema_error(exc):
    """One line naming the key, the bad value and what is allowed (instead of the schema dump)."""
    err = exc.__context__
    if not isinstance(err, jsonschema.exceptions.ValidationError):
        return str(exc)
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
    hint = None
    if err.validator == "additionalProperties" and isinstance(err.schema, dict):
        hint = "allowed keys: " + ", ".join(sorted(err.schema.get("properties", {})))
    elif err.validator == "type" and _is_float_text(err):
        hint = number_text_hint(err.instance, integer="number" not in str(err.validator_value))
    elif err.validator not in ("required", "type"):
        hint = err.schema.get("description") if isinstance(err.schema, dict) else None
    # jsonschema's message holds the bad value's repr: bounded, as every value fedbench echoes
    message = err.message if len(err.message) <= 300 else (
        f"{shown(err.instance)} is not allowed here ({err.validator})")
    return f"invalid config: {key.lstrip('.') or '(top level)'}: {message}" + (
        f" ({hint})" if hint else ""
    )


try:
    from fedbench import algorithms
    from fedbench.protocols import get_protocol
    from fedbench.config import (
        ConfigError,
        check_expanded_size,
        number_text_hint,
        read_yaml,
        shown,
        validate_experiment,
        workflow_schema,
    )
    from fedbench.digest import ANALYSIS, REPORT as REPORT_LAYERS, code_digest, runtime_digest
except ImportError as exc:
    raise WorkflowError(
        f"cannot import fedbench ({exc}); install it into the environment that runs snakemake "
        "(pip install -e .)"
    ) from None

# Every config file read again as fedbench reads it: a key given twice is refused (Snakemake's
# loader keeps the last one), and so is a config that YAML aliases expand to millions of values
# (every later step would walk or print all of them).
try:
    for _configfile in workflow.configfiles:
        read_yaml(_configfile)
    check_expanded_size(config, "the workflow config")
except ConfigError as exc:
    _refuse(str(exc))

# The schema's algorithm and protocol names come from fedbench's registries: the committed
# schema leaves them empty, and the one validated against is the committed one, filled in.
with open(Path(workflow.basedir, "workflow/schemas/config.schema.yaml")) as _template, \
        tempfile.TemporaryDirectory() as _tmp:
    _schema = Path(_tmp, "config.schema.yaml")
    _schema.write_text(yaml.safe_dump(workflow_schema(yaml.safe_load(_template))))
    try:
        validate(config, schema=str(_schema))
    except WorkflowError as exc:
        _refuse(_schema_error(exc))

# 2. fedbench's own models (the same ones `fedbench run` uses): cross-field rules that JSON
#    Schema cannot express, e.g. clients_per_round <= num_clients.

try:
    EXPERIMENT = validate_experiment(config, source="the workflow config")
    EXPERIMENT.check_workflow()
except ConfigError as exc:
    _refuse(str(exc))

NAME = EXPERIMENT.name
RESULTS = os.path.normpath(EXPERIMENT.results_dir)
REPORTS = os.path.normpath(EXPERIMENT.reports_dir)
DATA_ROOT = os.path.normpath(EXPERIMENT.data.root)
# `--mnist-dir DIR` when the config names a directory with the user's own MNIST files
MNIST_DIR_OPTION = (
    f"--mnist-dir {shlex.quote(EXPERIMENT.data.mnist_dir)}" if EXPERIMENT.data.mnist_dir else ""
)
FASHION_MNIST_DIR_OPTION = (
    f"--dir {shlex.quote(EXPERIMENT.data.fashion_mnist_dir)}"
    if EXPERIMENT.data.fashion_mnist_dir else ""
)
MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

# The `fedbench` command of the Python that runs Snakemake (the project's .venv), so that
# rules work without an activated environment. Set in the environment jobs inherit, rather than
# put in the shell commands, so that moving the venv is not a change that reruns every cell.
_BIN = Path(sys.executable).parent
if (_BIN / "fedbench").exists():
    os.environ.update(PATH=os.pathsep.join([str(_BIN), os.environ.get("PATH", "")]))

# --- the grid -------------------------------------------------------------------------------
# Wildcard values are Python's shortest round-tripping float repr: 2 -> "2.0", 0.9 -> "0.9",
# 1e-5 -> "1e-05"; float(text) gives back exactly the config's value.
FLOAT = r"[0-9]+(?:\.[0-9]+)?(?:e[-+][0-9]+)?"
# A grid with a protocol axis (grid.protocols, e.g. the four Synthetic datasets) puts each
# cell under results/<name>/<protocol>/...; a grid without one keeps the plain cell path.
PROTOCOL_AXIS = bool(EXPERIMENT.grid and EXPERIMENT.grid.protocols)
# A grid with a partitions axis (grid.partitions: #C=k, Dir(β), ... from
# fedbench/data/partitions/) adds <partition>/ to the path, e.g. dirichlet-beta0.5-min_size10.
PARTITIONS = [label for label in EXPERIMENT.partitions() if label]
PARTITION_AXIS = bool(EXPERIMENT.grid and EXPERIMENT.grid.partitions)
# A grid with a settings axis (grid.settings: model, E, B, lr; McMahan et al.'s grid) adds
# <setting>/ to the path, e.g. cnn-E5-B10-lr0.1, and is summarised by rounds to target.
SETTINGS = EXPERIMENT.settings()
SETTING_AXIS = bool(SETTINGS)
# A cell with runtime.device: cuda holds one `gpu` resource while it runs, so that
# `--resources gpu=N` (workflow/profiles/gpu) runs at most N cells on the GPUs at once.
GPUS_PER_CELL = 1 if EXPERIMENT.runtime.device == "cuda" else 0

# The grid's variants by directory name (fedbench.config.variant_id): fedprox-mu2.0, or
# fedadam-mu0.0-server_lr0.01 for one with params of its own.
VARIANTS = {v.id(): v for v in EXPERIMENT.grid.variants}

wildcard_constraints:
    name=re.escape(NAME),
    protocol="|".join(re.escape(p) for p in EXPERIMENT.protocols()),
    partition="|".join(re.escape(p) for p in PARTITIONS) or "none",
    setting="|".join(re.escape(s) for s in SETTINGS) or "none",
    variant="|".join(re.escape(v) for v in VARIANTS),
    stragglers=FLOAT,
    seed=r"[0-9]+",


def fmt_float(value):
    """The wildcard spelling of a float (exact round trip)."""
    return repr(float(value))


def grid_cells():
    """Every cell of the config's grid, de-duplicated and sorted
    ([protocol,] [partition,] [setting,] variant, stragglers, seed)."""
    grid = EXPERIMENT.grid
    protocols = EXPERIMENT.protocols()
    stragglers = sorted({float(s) for s in grid.stragglers})
    seeds = sorted({int(s) for s in grid.seeds})
    settings = sorted(SETTINGS) or [None]
    partitions = sorted(PARTITIONS) if PARTITION_AXIS else [None]
    return [
        {"protocol": p, "partition": d, "setting": t, "variant": v, "stragglers": fmt_float(s),
         "seed": str(k)}
        for p in protocols
        for d in partitions
        for t in settings
        for v in sorted(VARIANTS)
        for s in stragglers
        for k in seeds
    ]


CELL = (
    ("{protocol}/" if PROTOCOL_AXIS else "")
    + ("{partition}/" if PARTITION_AXIS else "")
    + ("{setting}/" if SETTING_AXIS else "")
    + "{variant}-sf{stragglers}/seed{seed}"
)


def cell_options(wildcards):
    """The `fedbench run` options naming a cell's protocol and setting (with those axes) and
    its variant: the algorithm, mu and the algorithm's own params."""
    variant = VARIANTS[wildcards.variant]
    parts = [f" --protocol {wildcards.protocol}" if PROTOCOL_AXIS else "",
             f" --partition {wildcards.partition}" if PARTITION_AXIS else "",
             f" --setting {wildcards.setting}" if SETTING_AXIS else "",
             f" --algorithm {variant.algorithm} --mu {fmt_float(variant.mu)}",
             *(f" --set params.{k}={fmt_float(v)}" for k, v in sorted(variant.params.items()))]
    return "".join(parts)



def cell_dir(cell, name=NAME):
    """results/<name>/[<protocol>/]<algorithm>-mu<mu>-sf<stragglers>/seed<seed> of a cell."""
    return f"{RESULTS}/{name}/{CELL.format(**cell)}"


def cell_dirs():
    return [cell_dir(c) for c in grid_cells()]


def cell_files(filename):
    return [f"{d}/{filename}" for d in cell_dirs()]


def mnist_files():
    return [str(Path(DATA_ROOT, "MNIST", "raw", f)) for f in MNIST_FILES]


def fashion_mnist_files():
    return [str(Path(DATA_ROOT, "FashionMNIST", "raw", f)) for f in MNIST_FILES]


def image_files(wildcards):
    """The verified images a cell reads: Fashion-MNIST for a protocol that reads it, else
    MNIST (which the Synthetic protocols do not read, but every grid has always required)."""
    protocol = wildcards.protocol if PROTOCOL_AXIS else EXPERIMENT.protocol
    if get_protocol(protocol).data == "fashion-mnist-train":
        return fashion_mnist_files()
    return mnist_files()


# Figures only some grids have (the FedProx paper's Figure 1 layout for federated protocols;
# last-10 accuracy against a swept setting, mu or a param, for a grid that sweeps one; the
# curves of a partial-work claim, FedNova against FedProx mu=0)
from fedbench.report.figures import extra_figure_names

EXTRA_FIGURES = extra_figure_names(
    EXPERIMENT.protocols(),
    [(v.algorithm, v.mu, s, v.params) for v in EXPERIMENT.grid.variants
     for s in EXPERIMENT.grid.stragglers]
    if EXPERIMENT.grid else [],
    partitions=PARTITIONS,
)


def report_files(name=NAME):
    base = f"{REPORTS}/{name}"
    if SETTING_AXIS:  # rounds to target per setting (fedbench targets), not the FedProx report
        return [f"{base}/targets.csv", f"{base}/targets_summary.csv",
                f"{base}/targets_rounds.csv", f"{base}/provenance.json",
                f"{base}/figures/target_curves.png", f"{base}/figures/target_curves.pdf",
                f"{base}/report.pdf"]
    extra = [f"{base}/figures/{fig}.{fmt}" for fig in EXTRA_FIGURES for fmt in ("png", "pdf")]
    return extra + [
        f"{base}/summary.csv",
        f"{base}/rounds.csv",
        f"{base}/provenance.json",
        f"{base}/figures/curves.png",
        f"{base}/figures/curves.pdf",
        f"{base}/figures/final_accuracy.png",
        f"{base}/figures/final_accuracy.pdf",
        f"{base}/report.pdf",
    ]


# --- the resolved config --------------------------------------------------------------------
# The validated config, with defaults and every --configfile/--config override applied, written
# to files by the rules in simulate.smk (their params are the content, so a file is rewritten
# exactly when its content changes):
# - results/<name>/config.yaml: all of it; what `fedbench report --config` reads.
# - results/<name>/run_config.yaml: what every cell runs with, i.e. without the grid (a new
#   seed must not rerun the finished cells), the output folders and the thread count (given
#   to each job as --threads). It is an input of every simulate job: changing a setting in it
#   (rounds, lr, backend, ...) reruns the whole grid; changing the grid adds or drops cells.
def _dump(data):
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


def _without_unset(data):
    """``data`` without the options that are unset (the files of grids made before them
    stay byte for byte what they were, so no cell reruns): stop_at_target, partition,
    momentum and the grid's partitions axis."""
    if not data["federation"]["stop_at_target"]:
        del data["federation"]["stop_at_target"]
    if data.get("partition") is None:
        data.pop("partition", None)
    if not data["training"]["momentum"]:
        del data["training"]["momentum"]
    if data.get("grid") is not None and data["grid"].get("partitions") is None:
        del data["grid"]["partitions"]
    return data


RESOLVED_CONFIG = _dump(_without_unset(EXPERIMENT.model_dump(mode="json")))
_run = EXPERIMENT.model_dump(mode="json", exclude={"grid", "results_dir", "reports_dir"})
del _run["runtime"]["threads"]
RUN_CONFIG = _dump(_without_unset(_run))


# --- code and software digests --------------------------------------------------------------
# Snakemake reruns a job whose params changed: each rule gets the digest of the code its
# command runs (fedbench/digest.py: the syntax tree without comments, formatting and
# docstrings; for the cells also without report text), so editing report code or prose
# reruns no cell, and a change to what a cell computes reruns every cell.
def software_versions(*packages):
    """Installed versions of the numerical stack (a pin change reruns the cells)."""
    return ", ".join(f"{p}=={importlib.metadata.version(p)}" for p in packages)


SIMULATE_CODE = runtime_digest()
AGGREGATE_CODE = CHECK_CODE = TARGETS_CODE = code_digest(ANALYSIS)
REPORT_CODE = code_digest(REPORT_LAYERS)
SOFTWARE = software_versions("flwr", "torch", "numpy")
