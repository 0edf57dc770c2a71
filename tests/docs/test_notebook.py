"""The example notebook (docs/notebooks/explore.ipynb) runs from top to bottom, as a reader
runs it: in a Jupyter kernel of its own (its own Spark session), from the notebook's folder.

The kernel is this virtualenv's Python, named by a kernel spec written into the test's own
folder: neither the user's Jupyter directories nor a kernel registered elsewhere decide which
Python runs the notebook. It runs on whichever Spark line the suite runs on (3.5 and 4.1).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from tests.support import REPO_ROOT

NOTEBOOK = REPO_ROOT / "docs" / "notebooks" / "explore.ipynb"
KERNEL_NAME = "reviews-etl-test-python"


@pytest.fixture
def kernel_manager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KernelManager:
    # The connection file and IPython's profile go to the test's folder, not to $HOME.
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    spec_dir = tmp_path / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "reviews-etl (tests)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])
    return KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)


def outputs(cell: nbformat.NotebookNode, kind: str) -> list[nbformat.NotebookNode]:
    return [output for output in cell.get("outputs", []) if output["output_type"] == kind]


def text_of(cell: nbformat.NotebookNode) -> str:
    return "".join(output["text"] for output in outputs(cell, "stream"))


def test_committed_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == []
            assert cell.execution_count is None


def test_notebook_runs_top_to_bottom(kernel_manager: KernelManager) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    folder = NOTEBOOK.parent
    before = sorted(folder.iterdir())
    client = NotebookClient(
        nb, km=kernel_manager, timeout=600, resources={"metadata": {"path": str(folder)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error

    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code)
    assert not any(outputs(cell, "error") for cell in code)
    printed = "\n".join(text_of(cell) for cell in code)
    assert "1,000 rows read" in printed
    assert "951 accepted, 49 rejected" in printed
    for reason in ("malformed_row", "missing_rating", "invalid_review_date", "duplicate_review_id"):
        assert reason in printed  # the rejects by reason, and a few of them
    figures = [
        output
        for cell in code
        for output in outputs(cell, "display_data")
        if "image/png" in output["data"]
    ]
    assert len(figures) == 1  # the rating distribution
    assert sorted(folder.iterdir()) == before  # it wrote nothing beside itself
