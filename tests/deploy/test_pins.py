"""reviews_etl.deploy.pins: the Glue pins, what pip installed minus Glue's own runtime, and
the pins file they are written to and read from."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviews_etl.deploy import packaging, pins, wheel
from reviews_etl.errors import PackagingError
from tests.support import REPO_ROOT as REPO
from tests.support.wheels import VERSION

# --------------------------------------------------------------------------- fast: pins


def _fake_dist_info(stage: Path, name: str, version: str) -> None:
    folder = stage / f"{name.replace('-', '_')}-{version}.dist-info"
    folder.mkdir(parents=True)
    (folder / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def test_staged_pins_are_what_pip_installed_minus_the_runtime(tmp_path: Path) -> None:
    for name, version in (
        ("pydantic", "2.11.7"),
        ("pydantic_core", "2.33.2"),
        ("Typing_Extensions", "4.14.1"),
        ("reviews-etl", VERSION),
        ("boto3", "1.40.0"),
        ("jmespath", "1.0.1"),
    ):
        _fake_dist_info(tmp_path, name, version)
    (tmp_path / "pydantic").mkdir()  # packages themselves are ignored
    assert pins.staged_pins(tmp_path) == {
        "pydantic": "2.11.7",
        "pydantic-core": "2.33.2",
        "typing-extensions": "4.14.1",
    }


def test_pins_file_round_trip(tmp_path: Path) -> None:
    pinned = {"typing-extensions": "4.14.1", "pydantic": "2.11.7", "pydantic-core": "2.33.2"}
    path = pins.write_pins(tmp_path / "glue-requirements.txt", pinned, version="1.0", target="X")
    text = path.read_text()
    assert text.startswith("# reviews-etl 1.0: ")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines == ["pydantic==2.11.7", "pydantic-core==2.33.2", "typing-extensions==4.14.1"]
    assert pins.read_pins(path) == pinned
    assert pins.glue_python_modules(pins.read_pins(path)) == (
        "pydantic==2.11.7,pydantic-core==2.33.2,typing-extensions==4.14.1"
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("pydantic~=2.6", "not an exact pin"),
        ("pydantic>=2.6,<3", "not an exact pin"),
        ("pydantic", "not an exact pin"),
        ("pydantic==2.11.7; python_version < '3.12'", "not an exact pin"),
        ("pydantic == 2.11.7", "not an exact pin"),
        ("boto3==1.40.0", "must not be pinned"),
        ("pyspark==3.5.6", "must not be pinned"),
    ],
)
def test_only_exact_pins_are_read(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "glue-requirements.txt"
    path.write_text(f"# header\n\npydantic-core==2.33.2\n{line}\n")
    with pytest.raises(PackagingError, match=message):
        pins.read_pins(path)


def test_empty_or_duplicate_pins_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "glue-requirements.txt"
    path.write_text("# only a header\n")
    with pytest.raises(PackagingError, match="no pins"):
        pins.read_pins(path)
    path.write_text("pydantic==2.11.7\nPydantic==2.11.7\n")
    with pytest.raises(PackagingError, match="pinned twice"):
        pins.read_pins(path)
    with pytest.raises(PackagingError, match="no pinned dependencies"):
        pins.glue_python_modules({})


def test_version_and_file_names() -> None:
    assert wheel.project_version(REPO) == VERSION
    assert wheel.wheel_file_name(VERSION) == f"reviews_etl-{VERSION}-py3-none-any.whl"
    assert packaging.lambda_zip_file_name(VERSION) == f"reviews_etl_lambda-{VERSION}.zip"
