"""Digests of fedbench's code: what decides when a cell, a summary or a report is stale.

Snakemake reruns a job when one of its params changes, and a checkpoint is resumed only
by the code that wrote it; both compare a digest of the code that job runs. The digest is
of *what the code computes*, not of its bytes: each module is parsed and the syntax tree is
hashed without comments, formatting, line numbers and docstrings. For the cell (the
runtime layers), report text is left out too: a ``docs=`` argument of any call and a
module-level name that contains ``docs`` (see ``fedbench.protocols.base``). So editing a
comment in the local training, or a sentence of a protocol's known differences, reruns
nothing, while a changed constant in training reruns every cell.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent

# What `fedbench run` executes to compute a cell: the layers below the analysis, and the
# command that turns the rule's options into a run config. Paths relative to the package.
RUNTIME = ("errors.py", "io.py", "seeding.py", "registry.py", "config.py", "data",
           "protocols", "fl", "algorithms", "apps", "commands/run.py")
# What reading and reporting results executes (labels and published values included).
ANALYSIS = ("errors.py", "io.py", "registry.py", "config.py", "protocols", "algorithms",
            "apps/results.py", "analysis")
REPORT = (*ANALYSIS, "report")


def _sources(parts: Iterable[str], package: Path) -> list[Path]:
    files: set[Path] = set()
    for part in parts:
        path = package / part
        files.update(path.rglob("*.py") if path.is_dir() else [path])
    return sorted(files, key=lambda p: p.relative_to(package).as_posix())


def _is_docs_name(node: ast.stmt) -> bool:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        names = [node.name]
    elif isinstance(node, ast.Assign):
        names = [t.id for t in node.targets if isinstance(t, ast.Name)]
    elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        names = [node.target.id]
    else:
        return False
    return any("docs" in name.lower() for name in names)


class _Normaliser(ast.NodeTransformer):
    """Drops docstrings always; with ``without_docs``, report text as well."""

    def __init__(self, without_docs: bool) -> None:
        self.without_docs = without_docs

    def _body(self, body: list[ast.stmt]) -> list[ast.stmt]:
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]
        return body or [ast.Pass()]

    def visit_Module(self, node: ast.Module) -> ast.Module:
        node.body = self._body(node.body)
        if self.without_docs:
            node.body = [s for s in node.body if not _is_docs_name(s)] or [ast.Pass()]
        return self.generic_visit(node)

    def _visit_scope(self, node):
        node.body = self._body(node.body)
        return self.generic_visit(node)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _visit_scope

    def visit_Call(self, node: ast.Call) -> ast.Call:
        if self.without_docs:
            node.keywords = [k for k in node.keywords if k.arg != "docs"]
        return self.generic_visit(node)


def normalised(source: str, without_docs: bool = False) -> str:
    """The syntax tree of ``source`` as text, without what cannot change a result."""
    tree = _Normaliser(without_docs).visit(ast.parse(source))
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


def code_digest(parts: Iterable[str], without_docs: bool = False,
                package: Path = PACKAGE) -> str:
    """sha256 (16 hex digits) over the normalised sources of ``parts`` of the package."""
    digest = hashlib.sha256()
    for path in _sources(parts, package):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(normalised(path.read_text(), without_docs).encode() + b"\0")
    return digest.hexdigest()[:16]


def runtime_digest(package: Path = PACKAGE) -> str:
    """The digest of the code that computes a cell (report text left out)."""
    return code_digest(RUNTIME, without_docs=True, package=package)
