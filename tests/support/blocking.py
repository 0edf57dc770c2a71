"""Run a process as if some packages were not installed: a ``sitecustomize`` that refuses them."""

from __future__ import annotations

from pathlib import Path

_BLOCKER = """
import importlib.abc, sys
_BLOCKED = {blocked!r}
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in _BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, _Block())
"""


def blocking_env(folder: Path, *packages: str) -> dict[str, str]:
    """An environment whose Python cannot import ``packages`` (nothing else set)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(
        _BLOCKER.format(blocked=tuple(packages)), encoding="utf-8"
    )
    return {"PYTHONPATH": str(folder), "PATH": "/usr/bin:/bin"}
