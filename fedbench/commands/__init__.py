"""One module per ``fedbench`` subcommand, each with ``configure(parser)`` and ``execute(args)``.

Command modules only translate arguments into calls of the package's logic;
heavy imports (torch, flwr, pandas) happen inside ``execute`` so that
``fedbench --help`` and argument errors are instant.
"""

NAMES = ("run", "data", "aggregate", "report", "check", "expected", "targets", "init")


def add_run_dir_options(p, name_help: str) -> None:
    """``--name``, ``--out-dir`` and the RUN_DIR list shared by commands that read many runs."""
    from pathlib import Path

    p.add_argument("--name", required=True, help=name_help)
    p.add_argument("--out-dir", required=True, type=Path,
                   help="output directory, e.g. reports/NAME")
    p.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR",
                   help="a run directory holding rounds.csv and run.json")
