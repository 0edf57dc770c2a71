"""The command line's exit codes (0 succeeded, 1 the data or run failed, 2 usage or
configuration) and their documentation in ``--help`` and the README. Runs without Spark."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, NoCredentialsError

from reviews_etl.cli import build_parser, exit_code, main
from reviews_etl.errors import (
    ConfigError,
    DeployError,
    EmptySourceError,
    EnvironmentSetupError,
    InvalidHeaderError,
    JobStartError,
    MissingColumnsError,
    PackagingError,
    QualityGateError,
    ReviewsEtlError,
    SourceNotFoundError,
)
from tests.support import REPO_ROOT as REPO
from tests.support.blocking import blocking_env

COMMANDS = (
    "run",
    "sample",
    "watch",
    "register-partitions",
    "package",
    "deploy",
    "destroy",
    "replay-failures",
    "report",
)
# The table as users read it; written here, not imported from the code under test.
EXIT_TABLE = (
    ("0", "succeeded"),
    ("1", "the data or the run failed"),
    ("2", "usage or configuration error"),
)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConfigError("bad"), 2),
        (EnvironmentSetupError("no java"), 2),
        (SourceNotFoundError("a.csv", "does not exist"), 1),
        (EmptySourceError("a.csv", "zero bytes"), 1),
        (MissingColumnsError("a.csv", ["rating"], ["review_id"]), 1),
        (InvalidHeaderError("a.csv", "rating given twice"), 1),
        (QualityGateError("a.csv", 3, 4, 0.25), 1),
        (JobStartError("job", "s3://b/k.csv", "AccessDeniedException", 1, "no"), 1),
        (PackagingError("pip failed"), 1),
        (DeployError("stack rolled back"), 1),
        (ReviewsEtlError("anything else of ours"), 1),
        (ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "CreateStack"), 1),
        (NoCredentialsError(), 1),
        (KeyboardInterrupt(), 130),
        (ValueError("a bug"), None),
    ],
)
def test_one_table_maps_error_types_to_exit_codes(error: BaseException, code: int | None) -> None:
    assert exit_code(error) == code


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_help_ends_with_the_exit_codes(command: str | None, capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"] if command is None else [command, "--help"])
    assert done.value.code == 0
    help_text = capsys.readouterr().out
    epilog = help_text[help_text.index("exit codes:") :]
    for code, meaning in EXIT_TABLE:
        assert f"\n  {code}    {meaning}" in epilog, (command, epilog)


def test_the_readme_documents_the_same_exit_codes() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Exit codes") :]
    for code, meaning in EXIT_TABLE:
        assert f"| {code} | {meaning}" in section


def test_usage_errors_exit_2(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["run", "a.csv"])  # --output is required
    assert done.value.code == 2
    with pytest.raises(SystemExit) as done:
        main(["frobnicate"])
    assert done.value.code == 2


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["run", "a.csv", "--output", "out", "--run-id", "not a valid id!"], "run_id"),
        (["deploy", "--stack-name", "9starts-with-a-digit"], "stack name"),
        (["deploy", "--stack-name", "ok-stack", "--parameter", "NoEqualsSign"], "NAME=VALUE"),
        (["destroy", "--stack-name", "x" * 30], "3-20 characters"),
    ],
)
def test_configuration_errors_exit_2_with_one_line(argv: list[str], says: str, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("reviews-etl: error: ")
    assert says in err[0]


def test_missing_pyspark_exits_2_with_the_install_hint(tmp_path: Path) -> None:
    env = blocking_env(tmp_path / "block", "pyspark")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "reviews_etl.cli",
            "run",
            str(REPO / "data" / "sample_reviews.csv"),
            "--output",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "pyspark is not installed" in done.stderr
    assert "reviews-etl[spark]" in done.stderr
    assert not (tmp_path / "out").exists()


def test_every_subcommand_is_registered_in_one_parser() -> None:
    parser = build_parser()
    actions = [a for a in parser._actions if a.dest == "command"]
    assert sorted(actions[0].choices) == sorted(COMMANDS)  # type: ignore[arg-type]


def test_a_connection_error_py4j_raises_when_the_jvm_is_gone_exits_1() -> None:
    import os

    where = f"{os.sep}site-packages{os.sep}py4j{os.sep}clientserver.py"
    try:
        exec(compile("raise ConnectionRefusedError(111, 'Connection refused')", where, "exec"))
    except ConnectionRefusedError as raised:
        from_py4j = raised
    assert exit_code(from_py4j) == 1
    try:
        raise ConnectionRefusedError(111, "Connection refused")  # our own code: a bug
    except ConnectionRefusedError as raised:
        ours = raised
    assert exit_code(ours) is None
