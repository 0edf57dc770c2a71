"""``glue-requirements.txt``: the exact versions Glue installs next to the wheel. No pyspark.

``reviews-etl package`` resolves the wheel's base dependencies once, with pip, for CPython
3.11 on ``manylinux2014_x86_64`` (the Lambda zip's build, see :mod:`.packaging`), and
writes the ``name==version`` of every distribution pip installed into the zip's staging
folder, sorted, under a comment header. ``reviews-etl deploy`` passes them, comma-separated,
to the template parameter ``GluePythonModules``; the Glue job installs the wheel and exactly
these pins with ``pip install --no-deps``, so pip resolves nothing on Glue at run time.

boto3, botocore, s3transfer and jmespath are the runtime's own (Glue's and Lambda's): they
are never resolved, pinned or installed here.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from reviews_etl.deploy.wheel import DISTRIBUTION, canonical_name, read_text
from reviews_etl.errors import PackagingError

GLUE_REQUIREMENTS_NAME = "glue-requirements.txt"
# Provided by the Glue and Lambda Python runtimes: never pinned, never shipped.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath"})
# Never installed on Glue by us: Glue brings its own Spark.
NEVER_PINNED = RUNTIME_PROVIDED | {"pyspark", "py4j"}

# One pin: a distribution name (PEP 508) and an exact version, no spaces, no markers.
_PIN_RE = re.compile(
    r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)==(?P<version>[A-Za-z0-9][A-Za-z0-9.+!_]*)$"
)


def staged_pins(stage: Path) -> dict[str, str]:
    """``canonical name -> version`` of every distribution pip installed into ``stage`` (a
    ``pip install --target`` folder), except reviews-etl itself and :data:`NEVER_PINNED`."""
    pins: dict[str, str] = {}
    for distribution in importlib.metadata.distributions(path=[str(stage)]):
        name = distribution.metadata["Name"]
        if not name:
            raise PackagingError(f"{stage}: a .dist-info folder without a Name")
        key = canonical_name(name)
        if key == DISTRIBUTION or key in NEVER_PINNED:
            continue
        if key in pins and pins[key] != distribution.version:
            raise PackagingError(
                f"{stage}: two versions of {key}: {pins[key]} and {distribution.version}"
            )
        pins[key] = distribution.version
    return dict(sorted(pins.items()))


def format_pins(pins: Mapping[str, str], *, version: str, target: str) -> str:
    """The file's text: a comment header, then one ``name==version`` per line, sorted."""
    lines = [
        f"# reviews-etl {version}: the exact versions of the wheel's runtime dependencies,",
        f"# resolved once for {target} (the resolution the Lambda zip ships).",
        "# `reviews-etl deploy` passes them to the Glue job (GluePythonModules), which installs",
        "# the wheel and exactly these with `pip install --no-deps`: nothing is resolved on",
        "# Glue. boto3, botocore, s3transfer and jmespath stay the runtime's own.",
    ]
    lines += [f"{name}=={pins[name]}" for name in sorted(pins)]
    return "\n".join(lines) + "\n"


def write_pins(path: Path, pins: Mapping[str, str], *, version: str, target: str) -> Path:
    for name, pin_version in pins.items():
        _check_pin(f"{name}=={pin_version}", str(path))
    path.write_text(format_pins(pins, version=version, target=target), encoding="utf-8")
    return path


def read_pins(path: Path) -> dict[str, str]:
    """The pins of a ``glue-requirements.txt``; refuses anything but ``name==version`` lines
    (comments and blank lines aside), duplicates and :data:`NEVER_PINNED` names."""
    pins: dict[str, str] = {}
    for number, raw in enumerate(read_text(path).splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, version = _check_pin(line, f"{path}:{number}")
        if name in pins:
            raise PackagingError(f"{path}:{number}: {name} is pinned twice")
        pins[name] = version
    if not pins:
        raise PackagingError(f"{path}: no pins (expected name==version lines)")
    return pins


def glue_python_modules(pins: Mapping[str, str]) -> str:
    """The value of ``GluePythonModules``: ``name==version`` joined by commas, sorted."""
    if not pins:
        raise PackagingError("no pinned dependencies for Glue")
    return ",".join(f"{name}=={pins[name]}" for name in sorted(pins))


def missing_pins(requirements: Iterable[str], pins: Mapping[str, str]) -> list[str]:
    """Names of ``requirements`` (canonical) that have no pin."""
    return sorted({canonical_name(name) for name in requirements} - set(pins))


def _check_pin(text: str, where: str) -> tuple[str, str]:
    match = _PIN_RE.match(text)
    if match is None:
        raise PackagingError(f"{where}: {text!r} is not an exact pin (name==version)")
    name = canonical_name(match.group("name"))
    if name in NEVER_PINNED:
        raise PackagingError(f"{where}: {name} must not be pinned (the runtime provides it)")
    return name, match.group("version")
