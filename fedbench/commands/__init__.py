"""One module per ``fedbench`` subcommand, each with ``configure(parser)`` and ``execute(args)``.

Command modules only translate arguments into calls of the package's logic;
heavy imports (torch, flwr, pandas) happen inside ``execute`` so that
``fedbench --help`` and argument errors are instant.
"""

NAMES = ("run", "data", "aggregate", "report", "check", "expected", "targets")
