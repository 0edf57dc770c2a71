"""infra/template.yaml through the CloudFormation scanners, cfn-lint and checkov, and the
reasons for checkov's skips.

cfn-lint and checkov are part of the dev/CI requirements: when they are missing these
tests fail (they do not skip), so CI cannot pass without running them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.template import TEMPLATE

# --------------------------------------------------------------------------- linters


def _require_tool(name: str, module: str) -> None:
    try:
        __import__(module)
    except ImportError:
        pytest.fail(
            f"{name} is not installed; it is part of the dev/CI requirements "
            f"(pip install {name}). This check must not be skipped."
        )


@pytest.mark.scanner
def test_cfn_lint_reports_no_errors() -> None:
    _require_tool("cfn-lint", "cfnlint")
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(TEMPLATE, ManualArgs(regions=["us-east-1", "eu-west-1"]))
    errors = [m for m in matches if str(m.rule.id).startswith("E")]
    assert not errors, "cfn-lint errors:\n" + "\n".join(str(m) for m in errors)


def _checkov_executable() -> str:
    # checkov lives in its own virtualenv (make tools): its pins must not constrain ours.
    sibling = Path(sys.executable).with_name("checkov")
    found = str(sibling) if sibling.is_file() else shutil.which("checkov")
    if not found:
        pytest.fail(
            "checkov is not on PATH; `make tools` installs it and `make test` puts it on PATH. "
            "This check must not be skipped."
        )
    return found


@pytest.mark.scanner
def test_checkov_has_no_failed_checks(resources: dict[str, Any]) -> None:
    command = [
        _checkov_executable(),
        "-f",
        str(TEMPLATE),
        "--framework",
        "cloudformation",
        "--skip-download",
        "--compact",
        "--quiet",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"checkov failed (exit {result.returncode}):\n{output}"
    # The summary must be there: a run that scanned nothing also exits 0.
    summary = re.search(
        r"Passed checks: (\d+), Failed checks: (\d+), Skipped checks: (\d+)", output
    )
    assert summary, f"no checkov summary in its output:\n{output}"
    passed, failed, skipped = (int(n) for n in summary.groups())
    assert failed == 0, output
    assert passed > 0, output
    # Every documented skip applies to its resource (none is stale), and nothing else is skipped.
    documented = sum(
        len(resource.get("Metadata", {}).get("checkov", {}).get("skip", []))
        for resource in resources.values()
    )
    assert skipped == documented, output


def test_every_checkov_skip_has_a_written_reason(resources: dict[str, Any]) -> None:
    skips = [
        (logical_id, skip)
        for logical_id, resource in resources.items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips, "expected the documented checkov skips"
    for logical_id, skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip.get("id", "")), (logical_id, skip)
        assert len(skip.get("comment", "").split()) >= 8, f"{logical_id}: skip needs a reason"
