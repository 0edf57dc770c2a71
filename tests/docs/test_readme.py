"""The README's promises: its Python snippets run, its commands exist, its sample is real."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import pytest

from reviews_etl.cli import build_parser
from reviews_etl.sample import write_sample
from tests.support import REPO_ROOT
from tests.support.docs_blocks import code_blocks, run_python_blocks

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_python_snippets_run(spark, tmp_path, monkeypatch) -> None:
    (tmp_path / "data").symlink_to(REPO_ROOT / "data")
    monkeypatch.chdir(tmp_path)
    assert len(code_blocks(README, "python")) == 3
    run_python_blocks(REPO_ROOT / "README.md")
    assert (tmp_path / "out" / "notebook" / "_runs").is_dir()


def test_every_documented_command_has_help() -> None:
    documented = set(re.findall(r"^reviews-etl ([\w-]+)", README, flags=re.MULTILINE))
    assert documented == {
        "run",
        "sample",
        "watch",
        "package",
        "deploy",
        "destroy",
        "register-partitions",
        "replay-failures",
        "report",
    }
    parser = build_parser()
    for command in sorted(documented):
        with pytest.raises(SystemExit) as info:
            parser.parse_args([command, "--help"])
        assert info.value.code == 0


def test_bundled_sample_is_what_the_sample_command_writes() -> None:
    buffer = io.StringIO()
    write_sample(buffer, rows=1000, seed=42)
    assert (REPO_ROOT / "data" / "sample_reviews.csv").read_text(
        encoding="utf-8"
    ) == buffer.getvalue()


def test_sample_is_deterministic_and_seed_dependent() -> None:
    def text(seed: int) -> str:
        buffer = io.StringIO()
        write_sample(buffer, rows=500, seed=seed, dirty_share=0.1)
        return buffer.getvalue()

    assert text(1) == text(1)
    assert text(1) != text(2)


def test_package_imports_without_pyspark() -> None:
    code = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('pyspark', 'py4j'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import reviews_etl, reviews_etl.cli, reviews_etl.config, reviews_etl.sample\n"
        "from reviews_etl import PipelineConfig, MissingColumnsError\n"
        "assert not any(m.startswith('pyspark') for m in sys.modules)\n"
        "try:\n"
        "    reviews_etl.clean_reviews\n"
        "except ImportError as exc:\n"
        "    print('lazy', exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "lazy blocked: pyspark" in done.stdout
