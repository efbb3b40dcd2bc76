"""Exceptions that mean "the user gave unusable input": the CLI turns them into exit code 2."""


class UsageError(Exception):
    """Unusable input to a subcommand (missing file, missing cell, malformed CSV)."""
