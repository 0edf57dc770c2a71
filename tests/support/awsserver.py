"""A moto server in its own process, for tests whose code under test runs in another
process (e.g. the ``reviews-etl`` command of a freshly installed wheel)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

# moto_server comes with moto[server] in the dev environment running the tests.
MOTO_SERVER = Path(sys.executable).with_name("moto_server")
AWS_ENV_VARS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fake_aws_env(config_dir: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment with fake credentials and no access to the user's AWS config."""
    env = dict(base if base is not None else os.environ)
    for name in AWS_ENV_VARS:
        env.pop(name, None)
    env["AWS_ACCESS_KEY_ID"] = "testing"
    env["AWS_SECRET_ACCESS_KEY"] = "testing"
    env["AWS_CONFIG_FILE"] = str(config_dir / "no-aws-config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(config_dir / "no-aws-credentials")
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    return env


@contextlib.contextmanager
def moto_server(timeout: float = 60.0) -> Iterator[str]:
    """Start ``moto_server`` on a free local port, wait until it answers, yield its URL,
    and always stop it."""
    port = free_port()
    # "localhost", not 127.0.0.1: moto serves CloudFormation TemplateURLs only on a host so
    # named (the server still binds 127.0.0.1 only).
    url = f"http://localhost:{port}"
    process = subprocess.Popen(
        [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_ready(process, url, timeout)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


# Straight to the local server, whatever proxy the environment names.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _wait_until_ready(process: subprocess.Popen[bytes], url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode} before answering")
        try:
            with _DIRECT.open(f"{url}/moto-api/", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"moto_server did not answer on {url} within {timeout:.0f} s")
