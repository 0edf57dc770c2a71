"""docs/architecture.md draws the tree as it is: every module of src/reviews_etl has a row in
its table and a place in its picture, and the tree keeps the shape the page promises (at most
12 modules at the package root, none over 400 lines, tests mirroring src).

The modules are found on disk, not asked of the package, so a module added without a word in
the docs fails here.
"""

from __future__ import annotations

import re

import pytest

from tests.support import REPO_ROOT

PACKAGE = REPO_ROOT / "src" / "reviews_etl"
PAGE = (REPO_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
# Subpackages documented as one row listing their modules (the job has a row per module).
ONE_ROW = ("trigger", "deploy", "cli", "report", "testing")


def modules() -> list[tuple[str, ...]]:
    """Every module of the package as path parts without ``.py``; links (package data) and
    ``__main__`` aside, a subpackage's ``__init__`` stands for the subpackage."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.is_symlink() or path.name == "__main__.py":
            continue
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        found.append(parts)
    return found


def table_rows() -> dict[str, str]:
    """First cell of each row of the "What lives where" table -> the whole row."""
    section = PAGE.split("## What lives where", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = line.split("|")
        if len(cells) > 2 and cells[1].strip().startswith("`"):
            rows[cells[1].strip()] = line
    return rows


def picture() -> str:
    return PAGE.split("## The layers", 1)[1].split("```", 2)[1]


@pytest.mark.parametrize("parts", modules(), ids="/".join)
def test_every_module_has_a_row_and_a_place_in_the_picture(parts: tuple[str, ...]) -> None:
    rows = table_rows()
    name = parts[-1]
    if parts[0] in ONE_ROW:
        row = rows.get(f"`{parts[0]}/`", "")
        assert len(parts) == 1 or f"`{name}`" in row, f"{'/'.join(parts)}: not in its row"
    else:
        package = (PACKAGE.joinpath(*parts) / "__init__.py").is_file()
        key = "`" + "/".join(parts) + ("/" if package else "`")
        assert any(cell.startswith(key) for cell in rows), f"{key}: no row"
    assert re.search(rf"\b{re.escape(name)}\b", picture()), f"{'/'.join(parts)}: not drawn"


def test_the_tree_keeps_its_shape() -> None:
    root = [path.name for path in PACKAGE.glob("*.py")]
    assert len(root) <= 12, sorted(root)
    too_long = {
        str(path.relative_to(PACKAGE)): lines
        for path in PACKAGE.rglob("*.py")
        if not path.is_symlink()
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert too_long == {}
    for sub in [p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()]:
        assert (REPO_ROOT / "tests" / sub).is_dir(), f"tests/ does not mirror {sub}/"
