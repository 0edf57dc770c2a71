"""The docs site's promises: the quick start's commands and what they print, and every Python
block of the notebook page, run as a reader would run them (from a checkout's root).

The strict build of the site itself (broken links, anchors, docstrings) is ``make docs``, a
step of ``make test``; the example notebook runs in ``tests/docs/test_notebook.py``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from reviews_etl.cli import main
from tests.support import REPO_ROOT
from tests.support.docs_blocks import code_blocks, run_python_blocks

DOCS = REPO_ROOT / "docs"
QUICK_START = DOCS / "quick-start.md"
NOTEBOOK_PAGE = DOCS / "notebook.md"
# Where the quick start's sample output pretends the checkout is.
DOCUMENTED_CHECKOUT = "/home/me/reviews-etl"


def page(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def in_a_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh folder that looks like a checkout's root to the snippets: ``data/`` is there,
    and whatever they write stays in the test's own folder."""
    (tmp_path / "data").symlink_to(REPO_ROOT / "data")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def make_recipe(target: str) -> tuple[list[str], list[str]]:
    """The prerequisites and the command lines of one Makefile target."""
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(rf"^{target}:(?P<deps>[^\n]*)\n(?P<recipe>(?:\t[^\n]*\n)*)", makefile, re.M)
    assert match, f"no `{target}` target in the Makefile"
    return match["deps"].split(), [line.strip() for line in match["recipe"].splitlines()]


def comparable(summary: str) -> list[str]:
    """The summary's lines without what differs from run to run: the run id, the Spark
    version and settings, and the timings."""
    lines = []
    for line in summary.strip().splitlines():
        plain = re.sub(r"\d{8}T\d{6}Z-[0-9a-f]{8}", "<run_id>", line)
        plain = re.sub(r"\(Spark [^)]*\)$", "(Spark ...)", plain)
        plain = re.sub(r"^seconds per stage: .*", "seconds per stage: ...", plain)
        lines.append(plain.rstrip())
    return lines


def test_quick_start_commands_are_the_two_make_targets() -> None:
    shell = code_blocks(page(QUICK_START), "bash")
    commands = [line.split("#")[0].strip() for line in shell[0].splitlines()]
    assert commands == ["make demo", "make test"]
    _, demo = make_recipe("demo")
    assert demo == ["$(BIN)/reviews-etl run data/sample_reviews.csv --output $(OUT)"]
    # The command the page says the demo is, with the Makefile's default OUT.
    assert ".venv/bin/reviews-etl run data/sample_reviews.csv --output out" in shell[1]
    test_deps, _ = make_recipe("test")
    assert test_deps == ["lint", "typecheck", "docs", "pytest"]  # the order the page lists
    _, docs = make_recipe("docs")
    assert any("mkdocs build --strict" in line for line in docs)


def test_quick_start_demo_prints_what_the_page_shows(spark, tmp_path, monkeypatch, capsys) -> None:
    # `make demo` is the CLI on the sample (checked above): run that command here, in this
    # process's Spark session, rather than `make`, which would build a virtualenv. `make test`
    # is not run from inside the test suite it runs.
    checkout = in_a_checkout(tmp_path, monkeypatch)
    code = main(["run", "data/sample_reviews.csv", "--output", "out", "--no-stop-spark"])
    printed = capsys.readouterr().out
    assert code == 0
    [shown] = [block for block in code_blocks(page(QUICK_START), "text") if "rows read" in block]
    assert comparable(printed) == comparable(shown.replace(DOCUMENTED_CHECKOUT, str(checkout)))
    assert len(list((checkout / "out" / "_runs").glob("*.json"))) == 1


def test_quick_start_install_options_name_real_extras() -> None:
    # The pip commands reach the package index, so they are not run; the extras they name
    # must exist.
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extras = set(pyproject["project"]["optional-dependencies"])
    named = set()
    for block in code_blocks(page(QUICK_START), "bash"):
        for group in re.findall(r"(?:reviews-etl|\.)\[([\w,-]+)\]", block):
            named.update(group.split(","))
    assert named == {"spark", "testing", "dev", "docs"}
    assert named <= extras


def test_quick_start_has_no_python_block_left_unrun() -> None:
    # Only the notebook page's Python runs below; a Python block added here must run too.
    assert code_blocks(page(QUICK_START), "python") == []


def test_notebook_page_blocks_run_in_order(spark, tmp_path, monkeypatch) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: the chart block draws into memory
    import matplotlib.pyplot as plt

    checkout = in_a_checkout(tmp_path, monkeypatch)
    namespace: dict[str, object] = {}
    try:
        blocks = run_python_blocks(NOTEBOOK_PAGE, namespace)
        assert len(blocks) == 9
        assert namespace["by_reason"] == {
            "malformed_row": 6,
            "missing_review_id": 6,
            "missing_product_id": 6,
            "missing_customer_id": 6,
            "missing_rating": 5,
            "invalid_rating": 5,
            "missing_review_date": 5,
            "invalid_review_date": 5,
            "duplicate_review_id": 5,
        }
        [bars] = namespace["ax"].containers  # type: ignore[attr-defined]
        assert [bar.get_x() + bar.get_width() / 2 for bar in bars] == [1, 2, 3, 4, 5]
        assert sum(bar.get_height() for bar in bars) == 951
        assert (checkout / "out" / "notebook" / "_runs").is_dir()
    finally:
        plt.close("all")
