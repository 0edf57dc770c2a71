"""reviews_etl.deploy.wheel: where the wheel comes from (a checkout, an editable install, an
installed distribution) and its deterministic writing, on small synthetic wheels; and the Lambda
zip's requirements."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import sys
import zipfile
from pathlib import Path

import pytest

from reviews_etl.deploy import packaging, wheel
from reviews_etl.errors import ConfigError, PackagingError
from tests.support import REPO_ROOT as REPO
from tests.support.wheels import DIST_INFO, VERSION
from tests.support.wheels import check_deterministic_wheel as _check_deterministic_wheel

# --------------------------------------------------------------------------- synthetic wheels


def _entries(version: str = VERSION) -> dict[str, bytes]:
    """The smallest set of files write_wheel accepts, as a build backend would make them."""
    dist_info = f"reviews_etl-{version}.dist-info"
    return {
        "reviews_etl/__init__.py": b"__version__ = '0'\n",
        "reviews_etl/py.typed": b"",
        "reviews_etl/deploy/template.yaml": b"Resources: {}\n",
        "reviews_etl/deploy/scripts/lambda_handler.py": b"def handler(e, c):\n    return 1\n",
        "reviews_etl/deploy/scripts/glue_entrypoint.py": b"print('glue')\n",
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: reviews-etl\nVersion: {version}\n"
            "Requires-Dist: pydantic<3,>=2.6\n"
        ).encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist_info}/entry_points.txt": b"[console_scripts]\nreviews-etl = reviews_etl.cli:main\n",
        f"{dist_info}/top_level.txt": b"reviews_etl\n",
    }


def _install(wheel_path: Path, site: Path) -> importlib.metadata.Distribution:
    """Install a wheel the way pip does: unpack it, add the installer's files, compile
    bytecode and list everything (and a console script outside site-packages) in RECORD."""
    with zipfile.ZipFile(wheel_path) as archive:
        archive.extractall(site)
    dist_info = site / DIST_INFO
    (dist_info / "INSTALLER").write_text("pip\n")
    (dist_info / "REQUESTED").write_text("")
    (dist_info / "direct_url.json").write_text(
        json.dumps({"archive_info": {}, "url": wheel_path.as_uri()})
    )
    (site / "reviews_etl" / "__pycache__").mkdir()
    (site / "reviews_etl" / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"\0pyc")
    lines = []
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        name = path.relative_to(site).as_posix()
        if name != f"{DIST_INFO}/RECORD":
            data = path.read_bytes()
            lines.append(f"{name},{wheel.record_hash(data)},{len(data)}")
    lines += ["../../bin/reviews-etl,sha256=AAAA,10", f"{DIST_INFO}/RECORD,,"]
    (dist_info / "RECORD").write_text("\n".join(lines) + "\n")
    return importlib.metadata.PathDistribution(dist_info)


# --------------------------------------------------------------------------- fast: locating


def test_a_folder_inside_the_checkout_builds_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO / "docs")
    source = wheel.locate_source()
    assert source.checkout == REPO
    assert source.distribution is None
    assert source.version == VERSION
    assert "current folder" in source.describe()


def test_project_root_wins_and_must_be_a_checkout(tmp_path: Path) -> None:
    assert wheel.locate_source(REPO, cwd=tmp_path).checkout == REPO
    with pytest.raises(ConfigError, match="not a reviews-etl checkout"):
        wheel.locate_source(tmp_path, cwd=REPO)
    other = tmp_path / "other"
    (other / "src" / "reviews_etl").mkdir(parents=True)
    (other / "pyproject.toml").write_text('[project]\nname = "something-else"\n')
    with pytest.raises(ConfigError, match="not a reviews-etl checkout"):
        wheel.locate_source(other)
    assert wheel.find_checkout(other / "src") is None


def test_outside_a_checkout_an_editable_install_builds_its_checkout(tmp_path: Path) -> None:
    installed = importlib.metadata.distribution("reviews-etl")
    if wheel.editable_checkout(installed) is None:
        pytest.skip("reviews-etl is not installed in editable mode here")
    source = wheel.locate_source(cwd=tmp_path)
    assert source.checkout == REPO
    assert source.how == "editable install"


def test_an_editable_install_of_a_vanished_checkout_is_refused(tmp_path: Path) -> None:
    site = tmp_path / "site"
    distribution = _install(wheel.write_wheel(_entries(), tmp_path / "w.whl", VERSION), site)
    (site / DIST_INFO / "direct_url.json").write_text(
        json.dumps({"dir_info": {"editable": True}, "url": (tmp_path / "gone").as_uri()})
    )
    with pytest.raises(PackagingError, match=r"editable install of .*gone"):
        wheel.locate_source(cwd=tmp_path, distribution=distribution)


def test_no_checkout_and_nothing_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(name: str) -> importlib.metadata.Distribution:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    with pytest.raises(PackagingError, match="reviews-etl is not installed"):
        wheel.locate_source(cwd=tmp_path)


# --------------------------------------------------------------------------- fast: the wheel


def test_written_wheels_are_deterministic(tmp_path: Path) -> None:
    entries = _entries()
    first = wheel.write_wheel(entries, tmp_path / "a" / "x.whl", VERSION)
    second = wheel.write_wheel(dict(reversed(entries.items())), tmp_path / "b" / "x.whl", VERSION)
    assert first.read_bytes() == second.read_bytes()
    _check_deterministic_wheel(first)
    assert wheel.read_wheel(first) == entries


def test_an_incomplete_wheel_is_refused(tmp_path: Path) -> None:
    entries = _entries()
    del entries["reviews_etl/deploy/template.yaml"]
    with pytest.raises(PackagingError, match=r"missing reviews_etl/deploy/template\.yaml"):
        wheel.write_wheel(entries, tmp_path / "x.whl", VERSION)
    entries = {**_entries(), f"{DIST_INFO}/WHEEL": b"Tag: cp311-cp311-linux_x86_64\n"}
    with pytest.raises(PackagingError, match="WHEEL tags"):
        wheel.write_wheel(entries, tmp_path / "x.whl", VERSION)
    entries = {**_entries(), "stray.py": b""}
    with pytest.raises(PackagingError, match=r"unexpected files stray\.py"):
        wheel.write_wheel(entries, tmp_path / "x.whl", VERSION)


def test_an_installed_distribution_gives_its_wheel_back(tmp_path: Path) -> None:
    original = wheel.write_wheel(_entries(), tmp_path / "original" / "x.whl", VERSION)
    distribution = _install(original, tmp_path / "site")
    source = wheel.locate_source(cwd=tmp_path, distribution=distribution)
    assert source.checkout is None
    assert source.version == VERSION
    work = tmp_path / "work"
    work.mkdir()
    rebuilt = wheel.build_wheel(source, tmp_path / "out", work, sys.executable)
    assert rebuilt.name == f"reviews_etl-{VERSION}-py3-none-any.whl"
    assert rebuilt.read_bytes() == original.read_bytes()
    # Nothing the installer added came along.
    names = set(zipfile.ZipFile(rebuilt).namelist())
    assert not {f"{DIST_INFO}/{n}" for n in ("INSTALLER", "REQUESTED", "direct_url.json")} & names
    assert not [n for n in names if "__pycache__" in n or n.startswith("..")]


def test_a_changed_installed_file_is_refused(tmp_path: Path) -> None:
    original = wheel.write_wheel(_entries(), tmp_path / "x.whl", VERSION)
    distribution = _install(original, tmp_path / "site")
    (tmp_path / "site" / "reviews_etl" / "__init__.py").write_text("__version__ = 'edited'\n")
    with pytest.raises(PackagingError, match="differs from its RECORD hash"):
        wheel.distribution_entries(distribution)


def test_lambda_requirements_are_the_base_dependencies_minus_the_runtime() -> None:
    metadata = (
        b"Metadata-Version: 2.4\nName: reviews-etl\nVersion: 1.0\n"
        b"Requires-Dist: pydantic<3,>=2.6\n"
        b"Requires-Dist: pydantic-settings<3,>=2.7\n"
        b"Requires-Dist: boto3>=1.34\n"
        b"Requires-Dist: python-dotenv>=0.21; python_version >= '3.8'\n"
        b'Requires-Dist: pyspark<4.2,>=3.5.6; extra == "spark"\n'
        b'Requires-Dist: awsgluedataplanepython>=5.1; python_version == "3.11" and extra == "dev"\n'
    )
    assert packaging.lambda_requirements(metadata) == [
        "pydantic<3,>=2.6",
        "pydantic-settings<3,>=2.7",
        "python-dotenv>=0.21; python_version >= '3.8'",
    ]
