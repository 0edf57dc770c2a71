"""reviews-etl: typed schemas and pure PySpark transforms for product-review CSV files.

The package imports without pyspark (the Lambda trigger path needs only boto3 and
pydantic). Every public name is loaded on first use, so ``from reviews_etl import
clean_reviews`` works wherever pyspark is installed and costs nothing where it is not.

The public names are listed once, in ``__init__.pyi``: type checkers read it for their
types, and this module reads it for where each name lives.
"""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any


def _public_names() -> dict[str, str]:
    stub = ast.parse(Path(__file__).with_suffix(".pyi").read_text(encoding="utf-8"))
    return {
        alias.asname or alias.name: node.module
        for node in stub.body
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }


_PUBLIC = _public_names()
__all__ = sorted(_PUBLIC)  # noqa: PLE0605 - built from the stub, which lists the names

# Modules that moved into the job subpackage (0.x). Old imports keep working, with a
# DeprecationWarning naming the new home, so notebooks and user code written against the
# flat layout do not break on upgrade.
_MOVED = {
    **{
        f"reviews_etl.{name}": f"reviews_etl.job.{name}"
        for name in (
            "analyses",
            "catalog",
            "execution",
            "glue",
            "pipeline",
            "read_errors",
            "reader",
            "record_cuts",
            "schemas",
            "session",
            "storage",
            "transforms",
        )
    },
    "reviews_etl.pytest_plugin": "reviews_etl.testing.plugin",
}


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers an old module name with the module at its new home (the same object)."""

    def find_spec(
        self, fullname: str, path: Any = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        new = _MOVED[spec.name]
        warnings.warn(
            f"{spec.name} moved to {new}; import it from there",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module(new)

    def exec_module(self, module: ModuleType) -> None:
        """The module at the new home is already executed."""


if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModuleFinder())


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'reviews_etl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
