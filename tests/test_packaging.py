"""reviews_etl.packaging: the wheel, the Lambda zip and the Glue script.

The slow tests build the real artifacts (pip downloads pydantic's manylinux wheels) and
install or import them in isolated interpreters.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import reviews_etl
from reviews_etl import packaging
from reviews_etl.packaging import Artifact, Artifacts, PackagingError, build_artifacts

REPO = Path(__file__).resolve().parents[1]
VERSION = reviews_etl.__version__

STAND_IN_HANDLER = """\
import sys

import reviews_etl
from reviews_etl.config import PipelineConfig


def handler(event, context):
    config = PipelineConfig.build(sources=["s3://landing/x.csv"], output_root="s3://out")
    return {"version": reviews_etl.__version__, "sources": config.sources,
            "pyspark_loaded": "pyspark" in sys.modules}
"""


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("stand-ins")
    handler = folder / "lambda_handler.py"
    handler.write_text(STAND_IN_HANDLER, encoding="utf-8")
    script = folder / "glue_entrypoint.py"
    script.write_text("print('glue entrypoint stand-in')\n", encoding="utf-8")
    return handler, script


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, stand_ins: tuple[Path, Path]) -> Artifacts:
    handler, script = stand_ins
    out = tmp_path_factory.mktemp("artifacts")
    return build_artifacts(out, REPO, lambda_handler=handler, glue_script=script)


# --------------------------------------------------------------------------- fast


def test_find_project_root_from_the_package() -> None:
    assert packaging.find_project_root() == REPO


def test_find_project_root_refuses_other_folders(tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match="no reviews-etl source checkout"):
        packaging.find_project_root(tmp_path)


def test_version_and_file_names() -> None:
    assert packaging.project_version(REPO) == VERSION
    assert packaging.wheel_file_name(VERSION) == f"reviews_etl-{VERSION}-py3-none-any.whl"
    assert packaging.lambda_zip_file_name(VERSION) == f"reviews_etl_lambda-{VERSION}.zip"


def test_lambda_requirements_leave_out_the_runtime() -> None:
    requirements = packaging.lambda_requirements(REPO)
    names = [r.split(">")[0].split("<")[0].split("=")[0].strip().lower() for r in requirements]
    assert "pydantic" in names
    assert "boto3" not in names
    assert "pyspark" not in names


def test_missing_handler_is_refused_before_building(tmp_path: Path) -> None:
    script = tmp_path / "glue_entrypoint.py"
    script.write_text("pass\n")
    with pytest.raises(PackagingError, match="Lambda handler module not found"):
        build_artifacts(
            tmp_path / "out", REPO, lambda_handler=tmp_path / "nope.py", glue_script=script
        )
    assert not (tmp_path / "out").exists()


def test_handler_without_handler_function_is_refused(tmp_path: Path) -> None:
    handler = tmp_path / "lambda_handler.py"
    handler.write_text("def main(event, context):\n    return None\n")
    script = tmp_path / "glue_entrypoint.py"
    script.write_text("pass\n")
    with pytest.raises(PackagingError, match="no top-level `handler`"):
        build_artifacts(tmp_path / "out", REPO, lambda_handler=handler, glue_script=script)


def test_missing_glue_script_is_refused(tmp_path: Path, stand_ins: tuple[Path, Path]) -> None:
    with pytest.raises(PackagingError, match="Glue script not found"):
        build_artifacts(
            tmp_path / "out", REPO, lambda_handler=stand_ins[0], glue_script=tmp_path / "x.py"
        )


def test_format_size() -> None:
    assert packaging.format_size(512) == "512 B"
    assert packaging.format_size(2048) == "2.0 KiB"
    assert packaging.format_size(3 * 1024 * 1024) == "3.0 MiB"


def test_package_parser_and_handler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {}
    for kind, name in (
        ("wheel", "reviews_etl-0.1.0-py3-none-any.whl"),
        ("lambda_zip", "reviews_etl_lambda-0.1.0.zip"),
        ("glue_script", "glue_entrypoint.py"),
    ):
        path = tmp_path / name
        path.write_bytes(b"x" * 2048)
        files[kind] = Artifact.from_path(kind, path)
    calls: list[tuple[str, object]] = []

    def fake_build(out: str, project_root: object = None) -> Artifacts:
        calls.append((out, project_root))
        return Artifacts(version="0.1.0", **files)

    monkeypatch.setattr(packaging, "build_artifacts", fake_build)
    parser = argparse.ArgumentParser(prog="reviews-etl")
    packaging.add_package_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["package", "--out", str(tmp_path / "dist")])
    assert args.func is packaging.run_package
    assert args.func(args) == 0
    assert calls == [(str(tmp_path / "dist"), None)]
    printed = capsys.readouterr().out
    for artifact in files.values():
        assert str(artifact.path) in printed
    assert printed.count("2.0 KiB") == 3


def test_package_handler_reports_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="reviews-etl")
    packaging.add_package_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["package", "--out", str(tmp_path), "--project-root", str(tmp_path)])
    assert args.func(args) == 2
    assert "error:" in capsys.readouterr().err


# --------------------------------------------------------------------------- slow


@pytest.mark.slow
def test_artifacts_have_standard_names_and_sizes(built: Artifacts) -> None:
    assert built.version == VERSION
    assert built.wheel.path.name == f"reviews_etl-{VERSION}-py3-none-any.whl"
    assert built.lambda_zip.path.name == f"reviews_etl_lambda-{VERSION}.zip"
    assert built.glue_script.path.name == "glue_entrypoint.py"
    for artifact in built:
        assert artifact.path.is_file()
        assert artifact.size == artifact.path.stat().st_size > 0
    assert built.glue_script.path.read_text() == "print('glue entrypoint stand-in')\n"
    assert len(built.digest) == 12


@pytest.mark.slow
def test_wheel_contents(built: Artifacts) -> None:
    with zipfile.ZipFile(built.wheel.path) as wheel:
        names = wheel.namelist()
        metadata = wheel.read(f"reviews_etl-{VERSION}.dist-info/METADATA").decode()
    assert "reviews_etl/py.typed" in names
    assert "reviews_etl/__init__.py" in names
    assert "reviews_etl/packaging.py" in names
    assert not [n for n in names if n.startswith("tests/") or "/tests/" in n]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert "Name: reviews-etl" in metadata
    assert f"Version: {VERSION}" in metadata
    assert "Requires-Dist: pyspark" in metadata  # only behind the [spark] extra
    assert 'extra == "spark"' in metadata


@pytest.mark.slow
def test_lambda_zip_layout(built: Artifacts) -> None:
    with zipfile.ZipFile(built.lambda_zip.path) as archive:
        names = archive.namelist()
        handler = archive.read("lambda_handler.py").decode()
    top_level = {n.split("/", 1)[0] for n in names}
    assert "lambda_handler.py" in top_level
    assert handler == STAND_IN_HANDLER
    assert {"reviews_etl", "pydantic", "pydantic_core", "annotated_types"} <= top_level
    assert "typing_extensions.py" in top_level
    assert "typing_inspection" in top_level
    assert not top_level & {"pyspark", "py4j", "boto3", "botocore", "bin", "tests"}
    assert [n for n in names if n.startswith("pydantic_core/_pydantic_core.cpython-311-x86_64")]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert "reviews_etl/py.typed" in names


@pytest.mark.slow
def test_lambda_zip_is_reproducible(built: Artifacts, tmp_path: Path) -> None:
    with zipfile.ZipFile(built.lambda_zip.path) as archive:
        infos = archive.infolist()
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {(info.external_attr >> 16) & 0o777 for info in infos} == {0o644}


def _lambda_runtime_dir(tmp_path: Path) -> Path:
    """A folder holding only what the Lambda Python runtime adds: boto3 and its deps."""
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for module in ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"):
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (runtime / source.name).symlink_to(source)
    return runtime


def _run_isolated(code: str, zip_path: Path, tmp_path: Path) -> dict[str, object]:
    extracted = tmp_path / "task"
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(extracted)
    runtime = _lambda_runtime_dir(tmp_path)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([str(extracted), str(runtime)]),
        "PYTHONNOUSERSITE": "1",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    # -S: no site-packages (and no editable install of this repo); only the zip's
    # contents and the runtime's boto3 are importable, as on Lambda.
    result = subprocess.run(
        [sys.executable, "-S", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert isinstance(data, dict)
    data["_extracted"] = str(extracted)
    return data


@pytest.mark.slow
def test_lambda_zip_handler_imports_with_only_zip_and_boto3(
    built: Artifacts, tmp_path: Path
) -> None:
    code = """
import json, sys
import lambda_handler, reviews_etl, pydantic, pydantic_core, boto3
try:
    import pyspark  # noqa: F401
    pyspark_importable = True
except ImportError:
    pyspark_importable = False
print(json.dumps({
    "handler": lambda_handler.__file__,
    "reviews_etl": reviews_etl.__file__,
    "pydantic": pydantic.__file__,
    "pydantic_core": pydantic_core.__file__,
    "boto3": boto3.__file__,
    "result": lambda_handler.handler({}, None),
    "pyspark_importable": pyspark_importable,
}))
"""
    data = _run_isolated(code, built.lambda_zip.path, tmp_path)
    extracted = str(data["_extracted"])
    for module in ("handler", "reviews_etl", "pydantic", "pydantic_core"):
        assert str(data[module]).startswith(extracted), (module, data[module])
    assert not str(data["boto3"]).startswith(extracted)
    assert data["result"] == {
        "version": VERSION,
        "sources": ["s3://landing/x.csv"],
        "pyspark_loaded": False,
    }
    assert data["pyspark_importable"] is False


@pytest.mark.slow
def test_repository_lambda_handler_imports_from_the_zip(tmp_path: Path) -> None:
    handler = REPO / "lambda_handler.py"
    if not handler.is_file():
        pytest.skip("lambda_handler.py is not in the repository yet")
    script = tmp_path / "glue_entrypoint.py"
    script.write_text("pass\n")
    artifacts = build_artifacts(tmp_path / "out", REPO, lambda_handler=handler, glue_script=script)
    code = """
import json, sys
import lambda_handler, reviews_etl
print(json.dumps({
    "handler": callable(getattr(lambda_handler, "handler", None)),
    "reviews_etl": reviews_etl.__file__,
    "pyspark_loaded": any(m == "pyspark" or m.startswith("pyspark.") for m in sys.modules),
}))
"""
    data = _run_isolated(code, artifacts.lambda_zip.path, tmp_path)
    assert data["handler"] is True
    assert str(data["reviews_etl"]).startswith(str(data["_extracted"]))
    assert data["pyspark_loaded"] is False


@pytest.mark.slow
def test_wheel_installs_into_a_clean_virtualenv(built: Artifacts, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--no-deps", str(built.wheel.path)], check=True, env=env, timeout=300)
    subprocess.run([*pip, "pydantic>=2.6,<3"], check=True, env=env, timeout=300)
    code = (
        "import importlib.metadata, importlib.util, json, reviews_etl\n"
        "from reviews_etl.config import PipelineConfig\n"
        "PipelineConfig.build(sources=['a.csv'], output_root='out')\n"
        "print(json.dumps({'file': reviews_etl.__file__, 'version': reviews_etl.__version__,"
        " 'dist': importlib.metadata.version('reviews-etl'),"
        " 'typed': importlib.util.find_spec('reviews_etl') is not None,"
        " 'pyspark': importlib.util.find_spec('pyspark') is not None}))\n"
    )
    result = subprocess.run(
        [str(python), "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["file"].startswith(str(venv))
    assert data["version"] == data["dist"] == VERSION
    assert data["pyspark"] is False
    assert (Path(data["file"]).parent / "py.typed").is_file()
