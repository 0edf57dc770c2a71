"""reviews_etl.deploy.packaging, .wheel and .pins: the wheel, the Lambda zip, the Glue
script and the Glue pins.

The fast tests check where the wheel comes from and its deterministic writing on small
synthetic wheels and installed distributions, and the pins file. The slow tests build the
real artifacts (pip downloads pydantic's manylinux wheels), install the wheel and the pins
the way Glue does, install the wheel into a fresh virtualenv and let it package and deploy
itself from an empty folder against a moto server.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest

import reviews_etl
import reviews_etl.deploy
from reviews_etl import cli
from reviews_etl.deploy import packaging, pins, wheel
from reviews_etl.deploy.packaging import Artifact, Artifacts, build_artifacts
from reviews_etl.errors import PackagingError
from tests.support import REPO_ROOT as REPO
from tests.support.awsserver import fake_aws_env, moto_server
from tests.support.wheels import DIST_INFO, EPOCH, VERSION
from tests.support.wheels import check_deterministic_wheel as _check_deterministic_wheel

STAND_IN_HANDLER = """\
import sys

import reviews_etl
from reviews_etl.config import PipelineConfig


def handler(event, context):
    config = PipelineConfig.build(sources=["s3://landing/x.csv"], output_root="s3://out")
    return {"version": reviews_etl.__version__, "sources": config.sources,
            "pyspark_loaded": "pyspark" in sys.modules}
"""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- fast: refusals


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
    assert not (tmp_path / "out").exists()


def test_missing_glue_script_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match="Glue script not found"):
        build_artifacts(tmp_path / "out", REPO, glue_script=tmp_path / "x.py")
    assert not (tmp_path / "out").exists()


def test_format_size() -> None:
    assert packaging.format_size(512) == "512 B"
    assert packaging.format_size(2048) == "2.0 KiB"
    assert packaging.format_size(3 * 1024 * 1024) == "3.0 MiB"


def test_package_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {}
    for kind, name in (
        ("wheel", "reviews_etl-0.1.0-py3-none-any.whl"),
        ("lambda_zip", "reviews_etl_lambda-0.1.0.zip"),
        ("glue_script", "glue_entrypoint.py"),
        ("glue_requirements", "glue-requirements.txt"),
    ):
        path = tmp_path / name
        path.write_bytes(b"x" * 2048)
        files[kind] = Artifact.from_path(kind, path)
    calls: list[tuple[str, object]] = []

    def fake_build(out: str, project_root: object = None) -> Artifacts:
        calls.append((out, project_root))
        return Artifacts(version="0.1.0", **files)

    monkeypatch.setattr(reviews_etl.deploy, "build_artifacts", fake_build)
    assert cli.main(["package", "--out", str(tmp_path / "dist")]) == 0
    assert calls == [(str(tmp_path / "dist"), None)]
    printed = capsys.readouterr().out
    for artifact in files.values():
        assert str(artifact.path) in printed
    assert printed.count("2.0 KiB") == 4


def test_package_command_refuses_a_project_root_that_is_no_checkout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["package", "--out", str(tmp_path / "out"), "--project-root", str(tmp_path)]
    assert cli.main(argv) == 2
    assert "not a reviews-etl checkout" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- slow: build


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


@pytest.fixture(scope="module")
def built_from_checkout(tmp_path_factory: pytest.TempPathFactory) -> Artifacts:
    """The artifacts exactly as ``reviews-etl package`` builds them in this checkout."""
    return build_artifacts(tmp_path_factory.mktemp("checkout-artifacts"), REPO)


@pytest.mark.slow
def test_artifacts_have_standard_names_and_sizes(built: Artifacts) -> None:
    assert built.version == VERSION
    assert built.wheel.path.name == f"reviews_etl-{VERSION}-py3-none-any.whl"
    assert built.lambda_zip.path.name == f"reviews_etl_lambda-{VERSION}.zip"
    assert built.glue_script.path.name == "glue_entrypoint.py"
    assert built.glue_requirements.path.name == "glue-requirements.txt"
    assert [a.kind for a in built] == ["wheel", "lambda_zip", "glue_script", "glue_requirements"]
    for artifact in built:
        assert artifact.path.is_file()
        assert artifact.size == artifact.path.stat().st_size > 0
        assert artifact.sha256 == _sha256(artifact.path)
    assert built.glue_script.path.read_text() == "print('glue entrypoint stand-in')\n"
    assert len(built.digest) == 12
    assert built.source.startswith(f"checkout {REPO}")


@pytest.mark.slow
def test_wheel_contents(built_from_checkout: Artifacts) -> None:
    path = built_from_checkout.wheel.path
    _check_deterministic_wheel(path)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        metadata = archive.read(f"{DIST_INFO}/METADATA").decode()
        shipped = {
            name: archive.read(f"reviews_etl/deploy/{name}")
            for name in ("template.yaml", "scripts/lambda_handler.py", "scripts/glue_entrypoint.py")
        }
    assert {"reviews_etl/py.typed", "reviews_etl/__init__.py"} <= set(names)
    assert {"reviews_etl/deploy/packaging.py", "reviews_etl/deploy/wheel.py"} <= set(names)
    assert not [n for n in names if n.startswith("tests/") or "/tests/" in n]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    # The package data holds the files' contents, not the links of the checkout.
    assert shipped["template.yaml"] == (REPO / "infra" / "template.yaml").read_bytes()
    assert shipped["scripts/lambda_handler.py"] == (REPO / "lambda_handler.py").read_bytes()
    assert shipped["scripts/glue_entrypoint.py"] == (REPO / "glue_entrypoint.py").read_bytes()
    assert "Name: reviews-etl" in metadata
    assert f"Version: {VERSION}" in metadata
    assert "Requires-Dist: pyspark" in metadata  # only behind the [spark] extra
    assert 'extra == "spark"' in metadata
    glue = built_from_checkout.glue_script.path.read_bytes()
    assert glue == (REPO / "glue_entrypoint.py").read_bytes()


@pytest.mark.slow
def test_lambda_zip_layout(built: Artifacts) -> None:
    with zipfile.ZipFile(built.lambda_zip.path) as archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        handler = archive.read("lambda_handler.py").decode()
    top_level = {n.split("/", 1)[0] for n in names}
    assert "lambda_handler.py" in top_level
    assert handler == STAND_IN_HANDLER
    assert {"reviews_etl", "pydantic", "pydantic_core", "annotated_types"} <= top_level
    assert {"pydantic_settings", "typing_inspection", "dotenv"} <= top_level
    assert "typing_extensions.py" in top_level
    assert not top_level & {"pyspark", "py4j", "boto3", "botocore", "bin", "tests"}
    assert [n for n in names if n.startswith("pydantic_core/_pydantic_core.cpython-311-x86_64")]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert "reviews_etl/py.typed" in names
    assert names == sorted(names)
    assert {info.date_time for info in infos} == {EPOCH}
    assert {(info.external_attr >> 16) & 0o777 for info in infos} == {0o644}


# Every runtime dependency of the wheel, direct or transitive; none of them is Glue's own.
EXPECTED_PINNED = {
    "pydantic",
    "pydantic-core",
    "annotated-types",
    "typing-extensions",
    "pydantic-settings",
    "python-dotenv",
    "typing-inspection",
}
RUNTIME_OWN = {"boto3", "botocore", "s3transfer", "jmespath", "pyspark", "py4j", "reviews-etl"}


def _zip_distributions(zip_path: Path) -> dict[str, str]:
    """``canonical name -> version`` of every .dist-info folder in a zip, from its METADATA."""
    found: dict[str, str] = {}
    with zipfile.ZipFile(zip_path) as archive:
        for name in archive.namelist():
            folder, _, file = name.partition("/")
            if folder.endswith(".dist-info") and file == "METADATA":
                metadata = wheel.read_metadata(archive.read(name))
                found[wheel.canonical_name(metadata["Name"])] = metadata["Version"]
    return found


@pytest.mark.slow
def test_glue_pins_are_the_lambda_zips_resolution(built: Artifacts) -> None:
    text = built.glue_requirements.path.read_text()
    assert text.startswith(f"# reviews-etl {VERSION}: ")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines == sorted(lines, key=lambda line: line.split("==")[0])  # by name
    for line in lines:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*==[0-9][A-Za-z0-9.+!]*", line), line
    pinned = built.glue_pins()
    assert set(pinned) >= EXPECTED_PINNED
    assert not set(pinned) & RUNTIME_OWN
    # One resolution: exactly the distributions the Lambda zip holds, at the same versions.
    in_zip = _zip_distributions(built.lambda_zip.path)
    assert in_zip.pop("reviews-etl") == VERSION
    assert pinned == in_zip
    with zipfile.ZipFile(built.lambda_zip.path) as archive:
        folders = {name.split("/", 1)[0] for name in archive.namelist()}
    for name in ("pydantic", "pydantic-core", "annotated-types", "typing-extensions"):
        assert f"{name.replace('-', '_')}-{pinned[name]}.dist-info" in folders, name
    # Every base requirement of the wheel is pinned (the runtime's boto3 aside).
    with zipfile.ZipFile(built.wheel.path) as archive:
        metadata = archive.read(f"{DIST_INFO}/METADATA")
    required = {
        wheel.canonical_name(re.split(r"[^A-Za-z0-9._-]", requirement, maxsplit=1)[0])
        for requirement in packaging.lambda_requirements(metadata)
    }
    assert {"pydantic", "pydantic-settings"} <= required <= set(pinned)


def _installed(python: Path) -> dict[str, str]:
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        env=_clean_env(),
        check=True,
        timeout=120,
    )
    return {wheel.canonical_name(d["name"]): d["version"] for d in json.loads(listed.stdout)}


@pytest.mark.slow
def test_glue_installs_the_wheel_and_exactly_the_pins(
    built_from_checkout: Artifacts, tmp_path: Path
) -> None:
    """What Glue does with ``--additional-python-modules <wheel>,<pins>`` and
    ``--python-modules-installer-option --no-deps``: one ``pip install --no-deps`` of the
    list, on top of the runtime's own boto3 (here: a venv with this environment's boto3)."""
    venv = tmp_path / "glue"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    boto3_version = importlib.metadata.version("boto3")
    subprocess.run([*pip, f"boto3=={boto3_version}"], check=True, env=_clean_env(), timeout=600)
    before = _installed(python)

    pinned = built_from_checkout.glue_pins()
    modules = f"{built_from_checkout.wheel.path},{pins.glue_python_modules(pinned)}"
    subprocess.run(
        [*pip, "--no-deps", *modules.split(",")], check=True, env=_clean_env(), timeout=600
    )
    after = _installed(python)
    changed = {name: v for name, v in after.items() if before.get(name) != v}
    assert changed == {**pinned, "reviews-etl": VERSION}  # nothing resolved beyond the list
    assert after["boto3"] == before["boto3"] == boto3_version  # the runtime's own, untouched
    checked = subprocess.run(
        [str(python), "-m", "pip", "check"], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout  # every requirement satisfied
    code = "import reviews_etl.config, reviews_etl.trigger, pydantic_settings; print('ok')"
    imported = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert imported.stdout.strip() == "ok", imported.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("python_version", "platform"),
    [
        ("3.11", "manylinux2014_x86_64"),  # Glue 5.0 and 5.1
        ("3.13", "manylinux2014_x86_64"),  # Glue 6.0
        ("3.13", "manylinux2014_aarch64"),  # Glue 6.1 on Graviton workers
    ],
)
def test_the_pins_have_binary_wheels_for_every_glue_python(
    built: Artifacts, tmp_path: Path, python_version: str, platform: str
) -> None:
    pinned = built.glue_pins()
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
    command += ["--only-binary=:all:", "--implementation", "cp", "--python-version"]
    command += [python_version, "--platform", platform, "--dest", str(tmp_path)]
    command += [f"{name}=={version}" for name, version in pinned.items()]
    result = subprocess.run(
        command, capture_output=True, text=True, env=_clean_env(), check=False, timeout=600
    )
    assert result.returncode == 0, result.stderr
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == len(pinned)
    (core,) = [f for f in files if f.startswith(f"pydantic_core-{pinned['pydantic-core']}-")]
    assert f"cp{python_version.replace('.', '')}" in core
    assert platform.split("_", 1)[1] in core


@pytest.mark.slow
def test_artifacts_are_reproducible(built_from_checkout: Artifacts, tmp_path: Path) -> None:
    again = build_artifacts(tmp_path / "again", REPO)
    assert again.wheel.path.parent != built_from_checkout.wheel.path.parent
    for first, second in zip(built_from_checkout, again, strict=True):
        assert first.path.name == second.path.name
        assert _sha256(first.path) == _sha256(second.path), first.kind
    assert again.digest == built_from_checkout.digest


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
def test_repository_lambda_handler_imports_from_the_zip(
    built_from_checkout: Artifacts, tmp_path: Path
) -> None:
    with zipfile.ZipFile(built_from_checkout.lambda_zip.path) as archive:
        assert archive.read("lambda_handler.py") == (REPO / "lambda_handler.py").read_bytes()
    code = """
import json, sys
import lambda_handler, reviews_etl, pydantic_settings
print(json.dumps({
    "handler": callable(getattr(lambda_handler, "handler", None)),
    "reviews_etl": reviews_etl.__file__,
    "pydantic_settings": pydantic_settings.__file__,
    "pyspark_loaded": any(m == "pyspark" or m.startswith("pyspark.") for m in sys.modules),
}))
"""
    data = _run_isolated(code, built_from_checkout.lambda_zip.path, tmp_path)
    assert data["handler"] is True
    assert str(data["reviews_etl"]).startswith(str(data["_extracted"]))
    assert str(data["pydantic_settings"]).startswith(str(data["_extracted"]))
    assert data["pyspark_loaded"] is False


# --------------------------------------------------------------------------- slow: installed


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@pytest.fixture(scope="module")
def installed_venv(
    tmp_path_factory: pytest.TempPathFactory, built_from_checkout: Artifacts
) -> Path:
    """A fresh virtualenv with the checkout's wheel installed, dependencies included."""
    venv = tmp_path_factory.mktemp("installed") / "venv"
    wheel_path = built_from_checkout.wheel.path
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel_path)],
        check=True,
        env=_clean_env(),
        timeout=600,
    )
    return venv


@pytest.mark.slow
def test_wheel_installs_with_its_dependencies_and_without_pyspark(
    installed_venv: Path, tmp_path: Path
) -> None:
    code = (
        "import importlib.metadata, importlib.util, json\n"
        "import reviews_etl, reviews_etl.trigger, reviews_etl.deploy, pydantic_settings\n"
        "from reviews_etl.config import PipelineConfig\n"
        "PipelineConfig.build(sources=['a.csv'], output_root='out')\n"
        "try:\n"
        "    import pyspark\n"
        "    pyspark_error = None\n"
        "except ImportError as exc:\n"
        "    pyspark_error = type(exc).__name__\n"
        "names = {d.metadata['Name'].lower() for d in importlib.metadata.distributions()}\n"
        "print(json.dumps({'file': reviews_etl.__file__, 'version': reviews_etl.__version__,"
        " 'dist': importlib.metadata.version('reviews-etl'), 'names': sorted(names),"
        " 'pyspark_error': pyspark_error}))\n"
    )
    result = subprocess.run(
        [str(installed_venv / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        env=_clean_env(),
        cwd=tmp_path,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["file"].startswith(str(installed_venv))
    assert data["version"] == data["dist"] == VERSION
    assert (Path(data["file"]).parent / "py.typed").is_file()
    # The dependencies came with it; pyspark did not (it is only in the [spark] extra).
    assert {"pydantic", "pydantic-settings", "boto3"} <= set(data["names"])
    assert "pyspark" not in data["names"]
    assert data["pyspark_error"] == "ModuleNotFoundError"


def _stack_status(cfn: Any, name: str) -> str | None:
    try:
        return str(cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"])
    except botocore.exceptions.ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise


@pytest.fixture
def empty_folder(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "empty"
    folder.mkdir()
    assert wheel.find_checkout(folder) is None
    yield folder
    assert sorted(folder.iterdir()) == [folder / "dist"]  # nothing else written here


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:datetime.datetime.utcnow")
def test_an_installed_wheel_packages_and_deploys_itself(
    installed_venv: Path, built_from_checkout: Artifacts, empty_folder: Path, tmp_path: Path
) -> None:
    command = str(installed_venv / "bin" / "reviews-etl")
    env = fake_aws_env(tmp_path, _clean_env())

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [command, *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=empty_folder,
            check=False,
            timeout=900,
        )

    packaged = run("package", "--out", "dist")
    assert packaged.returncode == 0, packaged.stderr
    out = empty_folder / "dist"
    wheel_path = out / f"reviews_etl-{VERSION}-py3-none-any.whl"
    zip_path = out / f"reviews_etl_lambda-{VERSION}.zip"
    script_path = out / "glue_entrypoint.py"
    pins_path = out / "glue-requirements.txt"
    assert sorted(out.iterdir()) == sorted([wheel_path, zip_path, script_path, pins_path])
    assert pins.read_pins(pins_path) == built_from_checkout.glue_pins()
    # The wheel rebuilt from the installed distribution is the one it was installed from.
    assert _sha256(wheel_path) == built_from_checkout.wheel.sha256
    assert script_path.read_bytes() == (REPO / "glue_entrypoint.py").read_bytes()
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        assert archive.read("lambda_handler.py") == (REPO / "lambda_handler.py").read_bytes()
    top_level = {n.split("/", 1)[0] for n in names}
    assert "reviews_etl/__init__.py" in names
    assert [n for n in names if n.startswith("pydantic_core/_pydantic_core.cpython-311-x86_64")]
    assert [n for n in names if n.endswith(".so") and "linux" in n]
    assert "pydantic_settings" in top_level
    assert not top_level & {"pyspark", "py4j", "boto3", "botocore"}

    stack = "rev-installed"
    with moto_server() as endpoint:
        cfn = boto3.client(
            "cloudformation",
            region_name="us-east-1",
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        aws_args = ("--stack-name", stack, "--endpoint-url", endpoint, "--region", "us-east-1")
        deployed = run("deploy", *aws_args)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        assert _stack_status(cfn, stack) == "CREATE_COMPLETE"
        assert f"from installed reviews-etl {VERSION}" in deployed.stdout
        parameters = {
            p["ParameterKey"]: p["ParameterValue"]
            for p in cfn.describe_stacks(StackName=stack)["Stacks"][0]["Parameters"]
        }
        assert parameters["GluePythonModules"] == pins.glue_python_modules(
            pins.read_pins(pins_path)
        )
        s3 = boto3.client(
            "s3",
            region_name="us-east-1",
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        bucket = f"{stack}-artifacts-123456789012-us-east-1"
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
        (wheel_key,) = [k for k in keys if k.endswith(".whl")]
        uploaded = s3.get_object(Bucket=bucket, Key=wheel_key)["Body"].read()
        assert hashlib.sha256(uploaded).hexdigest() == built_from_checkout.wheel.sha256

        destroyed = run("destroy", *aws_args)
        assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
        assert _stack_status(cfn, stack) is None
        buckets = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        assert not {b for b in buckets if b.startswith(f"{stack}-")}
