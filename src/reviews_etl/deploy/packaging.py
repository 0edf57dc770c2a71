"""Build the three deployment artifacts: the wheel, the Lambda zip and the Glue script.

* ``reviews_etl-<version>-py3-none-any.whl``: the library, installed on Glue through
  ``--additional-python-modules`` (pip there resolves pydantic for Glue's own Python).
* ``reviews_etl_lambda-<version>.zip``: ``lambda_handler.py`` at the root, the
  ``reviews_etl`` package, and pydantic with its dependencies built for Lambda's
  x86_64 Python 3.11 (boto3 comes with the Lambda runtime; pyspark is never included).
* ``glue_entrypoint.py``: the Glue job script, copied as is.

Building needs a source checkout (``pyproject.toml`` and ``src/reviews_etl``) and pip;
pydantic's wheels are downloaded from the package index. No pyspark is imported here.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from reviews_etl.errors import PackagingError

DISTRIBUTION = "reviews-etl"
PACKAGE = "reviews_etl"
GLUE_SCRIPT_NAME = "glue_entrypoint.py"
LAMBDA_HANDLER_NAME = "lambda_handler.py"

# The Lambda runtime the zip is built for (see infra/template.yaml: Runtime python3.11).
LAMBDA_PYTHON_VERSION = "3.11"
LAMBDA_PLATFORM = "manylinux2014_x86_64"
# Provided by the Lambda Python runtime, so left out of the zip.
LAMBDA_RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath"})
# Must never end up in the Lambda zip.
LAMBDA_FORBIDDEN_TOP_LEVEL = frozenset({"pyspark", "py4j", "boto3", "botocore"})
# Lambda refuses zips larger than this for direct upload (50 MB zipped).
LAMBDA_ZIP_LIMIT_BYTES = 50 * 1024 * 1024

# Fixed timestamp for reproducible archives (zip cannot store dates before 1980).
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_SOURCE_DATE_EPOCH = "315532800"  # 1980-01-01T00:00:00Z

_VERSION_RE = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']""", re.MULTILINE)
_REQUIREMENT_NAME_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class Artifact:
    """One built file."""

    kind: str
    path: Path
    size: int
    sha256: str

    @classmethod
    def from_path(cls, kind: str, path: Path) -> Artifact:
        return cls(kind=kind, path=path, size=path.stat().st_size, sha256=_sha256(path))


@dataclass(frozen=True)
class Artifacts:
    """The three deployment artifacts of one version."""

    version: str
    wheel: Artifact
    lambda_zip: Artifact
    glue_script: Artifact

    def __iter__(self) -> Iterator[Artifact]:
        return iter((self.wheel, self.lambda_zip, self.glue_script))

    @property
    def digest(self) -> str:
        """A short digest over the three files' contents (changes whenever any file does)."""
        combined = hashlib.sha256()
        for artifact in self:
            combined.update(f"{artifact.path.name}\0{artifact.sha256}\n".encode())
        return combined.hexdigest()[:12]


def find_project_root(start: Path | None = None) -> Path:
    """The source checkout holding ``pyproject.toml`` for reviews-etl, found upwards from
    ``start`` (default: this module's location, i.e. an editable/source install)."""
    here = (start or Path(__file__)).resolve()
    for candidate in (here, *here.parents):
        pyproject = candidate / "pyproject.toml"
        if (
            pyproject.is_file()
            and (candidate / "src" / PACKAGE).is_dir()
            and _project_name(pyproject) == DISTRIBUTION
        ):
            return candidate
    raise PackagingError(
        f"no reviews-etl source checkout (pyproject.toml + src/{PACKAGE}) found above {here}; "
        "run from a clone of the repository or pass project_root / --project-root"
    )


def project_version(project_root: Path) -> str:
    version_file = project_root / "src" / PACKAGE / "_version.py"
    match = _VERSION_RE.search(_read_text(version_file))
    if match is None:
        raise PackagingError(f"{version_file}: no __version__ = '...' line")
    return match.group(1)


def lambda_requirements(project_root: Path) -> list[str]:
    """The project's base dependencies minus what the Lambda runtime already provides."""
    pyproject = project_root / "pyproject.toml"
    try:
        data = tomllib.loads(_read_text(pyproject))
    except tomllib.TOMLDecodeError as exc:
        raise PackagingError(f"{pyproject}: {exc}") from exc
    requirements: list[str] = []
    for requirement in data.get("project", {}).get("dependencies", []):
        match = _REQUIREMENT_NAME_RE.match(requirement)
        if match is None:
            raise PackagingError(f"{pyproject}: cannot read dependency {requirement!r}")
        if _canonical(match.group(1)) not in LAMBDA_RUNTIME_PROVIDED:
            requirements.append(requirement)
    return requirements


def build_artifacts(
    out_dir: str | os.PathLike[str],
    project_root: str | os.PathLike[str] | None = None,
    *,
    lambda_handler: str | os.PathLike[str] | None = None,
    glue_script: str | os.PathLike[str] | None = None,
    python: str | None = None,
) -> Artifacts:
    """Build the wheel, the Lambda zip and the Glue script copy into ``out_dir``.

    ``lambda_handler`` and ``glue_script`` default to ``lambda_handler.py`` and
    ``glue_entrypoint.py`` at the project root. ``python`` is the interpreter that runs
    the build and pip (default: the current one). Existing files of the same names in
    ``out_dir`` are replaced.
    """
    root = Path(project_root).resolve() if project_root is not None else find_project_root()
    if not (root / "pyproject.toml").is_file():
        raise PackagingError(f"{root}: no pyproject.toml (not a reviews-etl source checkout)")
    handler_path = Path(lambda_handler) if lambda_handler else root / LAMBDA_HANDLER_NAME
    script_path = Path(glue_script) if glue_script else root / GLUE_SCRIPT_NAME
    _check_lambda_handler(handler_path)
    if not script_path.is_file():
        raise PackagingError(f"{script_path}: Glue script not found")

    interpreter = python or sys.executable
    version = project_version(root)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="reviews-etl-package-") as tmp:
        work = Path(tmp)
        wheel_path = _build_wheel(root, version, out, work, interpreter)
        zip_path = _build_lambda_zip(
            root=root,
            version=version,
            wheel_path=wheel_path,
            handler_path=handler_path,
            out=out,
            work=work,
            python=interpreter,
        )

    script_out = out / GLUE_SCRIPT_NAME
    if script_path.resolve() != script_out.resolve():
        shutil.copyfile(script_path, script_out)

    return Artifacts(
        version=version,
        wheel=Artifact.from_path("wheel", wheel_path),
        lambda_zip=Artifact.from_path("lambda_zip", zip_path),
        glue_script=Artifact.from_path("glue_script", script_out),
    )


# ------------------------------------------------------------------------------ wheel


def wheel_file_name(version: str) -> str:
    return f"{PACKAGE}-{version}-py3-none-any.whl"


def lambda_zip_file_name(version: str) -> str:
    return f"{PACKAGE}_lambda-{version}.zip"


def _build_wheel(root: Path, version: str, out: Path, work: Path, python: str) -> Path:
    # Build from a clean copy of the sources: no stale build/ directory can leak old
    # modules into the wheel, and the checkout is left untouched.
    source = work / "source"
    source.mkdir()
    shutil.copytree(
        root / "src",
        source / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
    )
    for name in ("pyproject.toml", "setup.cfg", "setup.py", "MANIFEST.in"):
        if (root / name).is_file():
            shutil.copy2(root / name, source / name)
    for pattern in ("README*", "LICEN[CS]E*", "NOTICE*"):
        for path in root.glob(pattern):
            if path.is_file():
                shutil.copy2(path, source / path.name)

    dist = work / "dist"
    if _has_module(python, "build"):
        command = [python, "-m", "build", "--wheel", "--outdir", str(dist), str(source)]
    else:
        command = [python, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(dist), str(source)]
    _run(command, what="building the wheel", cwd=source)

    expected = wheel_file_name(version)
    built = sorted(p.name for p in dist.glob("*.whl"))
    if built != [expected]:
        raise PackagingError(f"building the wheel: expected {expected}, got {built or 'nothing'}")
    target = out / expected
    shutil.copyfile(dist / expected, target)
    with zipfile.ZipFile(target) as wheel:
        if f"{PACKAGE}/py.typed" not in wheel.namelist():
            raise PackagingError(f"{target}: {PACKAGE}/py.typed is missing from the wheel")
    return target


# ------------------------------------------------------------------------------ Lambda zip


def _check_lambda_handler(path: Path) -> None:
    if not path.is_file():
        raise PackagingError(f"{path}: Lambda handler module not found")
    try:
        tree = ast.parse(_read_text(path), filename=str(path))
    except SyntaxError as exc:
        raise PackagingError(f"{path}: not valid Python: {exc}") from exc
    names = {
        node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    names |= {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    names |= {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    if "handler" not in names:
        raise PackagingError(f"{path}: defines no top-level `handler` (the Lambda entry point)")


def _build_lambda_zip(
    *,
    root: Path,
    version: str,
    wheel_path: Path,
    handler_path: Path,
    out: Path,
    work: Path,
    python: str,
) -> Path:
    stage = work / "lambda"
    stage.mkdir()
    # The package exactly as the wheel ships it (plus its metadata, so that
    # importlib.metadata.version("reviews-etl") works on Lambda too).
    with zipfile.ZipFile(wheel_path) as wheel:
        for member in wheel.namelist():
            top = member.split("/", 1)[0]
            if top == PACKAGE or (top.startswith(f"{PACKAGE}-") and top.endswith(".dist-info")):
                wheel.extract(member, stage)

    requirements = lambda_requirements(root)
    if requirements:
        command = [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--upgrade",
            "--target",
            str(stage),
            "--platform",
            LAMBDA_PLATFORM,
            "--implementation",
            "cp",
            "--python-version",
            LAMBDA_PYTHON_VERSION,
            "--only-binary=:all:",
            *requirements,
        ]
        _run(command, what="installing the Lambda dependencies", cwd=work)

    shutil.rmtree(stage / "bin", ignore_errors=True)
    for cache in list(stage.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)
    _check_lambda_stage(stage, requirements)

    target = out / lambda_zip_file_name(version)
    files = sorted(p for p in stage.rglob("*") if p.is_file())
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        _add_file(archive, handler_path, LAMBDA_HANDLER_NAME)
        for path in files:
            arcname = path.relative_to(stage).as_posix()
            if arcname == LAMBDA_HANDLER_NAME:
                raise PackagingError(f"a dependency ships a top-level {LAMBDA_HANDLER_NAME}")
            _add_file(archive, path, arcname)
    size = target.stat().st_size
    if size > LAMBDA_ZIP_LIMIT_BYTES:
        raise PackagingError(
            f"{target}: {size} bytes, over Lambda's {LAMBDA_ZIP_LIMIT_BYTES}-byte zip limit"
        )
    return target


def _check_lambda_stage(stage: Path, requirements: Sequence[str]) -> None:
    top_level = {p.name.split(".", 1)[0] for p in stage.iterdir()}
    forbidden = sorted(top_level & LAMBDA_FORBIDDEN_TOP_LEVEL)
    if forbidden:
        raise PackagingError(f"the Lambda zip would contain {', '.join(forbidden)}")
    if not (stage / PACKAGE / "__init__.py").is_file():
        raise PackagingError(f"the Lambda zip would lack the {PACKAGE} package")
    if any(_canonical(_requirement_name(r)) == "pydantic" for r in requirements):
        tag = f"cpython-{LAMBDA_PYTHON_VERSION.replace('.', '')}-x86_64-linux-gnu"
        if not list((stage / "pydantic_core").glob(f"_pydantic_core.{tag}*.so")):
            raise PackagingError(
                f"the Lambda zip would lack pydantic_core compiled for {tag} "
                "(pip did not install the manylinux wheel)"
            )
    leftovers = [p for p in stage.rglob("*") if p.is_dir() and p.name in {"tests", "test"}]
    for path in leftovers:
        if path.parent.name == PACKAGE:
            raise PackagingError(f"the Lambda zip would contain tests: {path}")


def _add_file(archive: zipfile.ZipFile, path: Path, arcname: str) -> None:
    info = zipfile.ZipInfo(arcname, date_time=_ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    # Lambda needs world-readable files; nothing needs to be executable.
    info.external_attr = (0o100644 & 0xFFFF) << 16
    info.create_system = 3  # unix, so the permission bits are honoured
    archive.writestr(info, path.read_bytes())


# ------------------------------------------------------------------------------ helpers


def _run(command: Sequence[str], *, what: str, cwd: Path) -> None:
    env = dict(os.environ)
    env.setdefault("SOURCE_DATE_EPOCH", _SOURCE_DATE_EPOCH)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.pop("PYTHONPATH", None)
    try:
        completed = subprocess.run(
            list(command),
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise PackagingError(f"{what}: cannot run {command[0]}: {exc}") from exc
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr).strip().splitlines()
        tail = "\n".join(output[-25:])
        raise PackagingError(
            f"{what} failed (exit {completed.returncode}): {' '.join(command)}\n{tail}"
        )


def _has_module(python: str, module: str) -> bool:
    if python == sys.executable:
        return importlib.util.find_spec(module) is not None
    probe = subprocess.run(
        [
            python,
            "-c",
            f"import importlib.util, sys; sys.exit(not importlib.util.find_spec({module!r}))",
        ],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def _project_name(pyproject: Path) -> str | None:
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    name = data.get("project", {}).get("name")
    return _canonical(name) if isinstance(name, str) else None


def _requirement_name(requirement: str) -> str:
    match = _REQUIREMENT_NAME_RE.match(requirement)
    return match.group(1) if match else requirement


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PackagingError(f"{path}: cannot read: {exc}") from exc


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def format_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024 or unit == "MiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover - unreachable
