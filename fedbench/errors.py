"""Exceptions that mean "the user gave unusable input": the CLI turns them into exit code 2.

They live here, at the bottom of the package, so that any layer can raise them without
importing the layer that reports them (a data source raising ``ConfigError`` must not
import the config models).
"""


class UsageError(Exception):
    """Unusable input to a subcommand (missing file, missing cell, malformed CSV)."""


class ConfigError(ValueError):
    """A user-facing configuration mistake; the CLI prints it and exits with code 2."""


class DataError(RuntimeError):
    """A dataset could not be obtained or failed verification; the message says why and how
    to fix it."""
