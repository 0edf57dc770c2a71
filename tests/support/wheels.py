"""What the wheel tests share: this checkout's version and dist-info folder, and the checks
every deterministic wheel passes."""

from __future__ import annotations

import zipfile
from pathlib import Path

import reviews_etl
from reviews_etl.deploy import wheel

VERSION = reviews_etl.__version__
DIST_INFO = f"reviews_etl-{VERSION}.dist-info"
EPOCH = (1980, 1, 1, 0, 0, 0)


def check_deterministic_wheel(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        record = archive.read(f"{DIST_INFO}/RECORD").decode()
        contents = {info.filename: archive.read(info) for info in infos}
    assert {info.date_time for info in infos} == {EPOCH}
    assert {info.external_attr >> 16 for info in infos} == {0o100644}
    package = [n for n in names if not n.startswith(f"{DIST_INFO}/")]
    metadata = [n for n in names if n.startswith(f"{DIST_INFO}/")]
    assert names == sorted(package) + sorted(metadata[:-1]) + [f"{DIST_INFO}/RECORD"]
    rows = [line.split(",") for line in record.splitlines()]
    assert [row[0] for row in rows] == names
    assert rows[-1] == [f"{DIST_INFO}/RECORD", "", ""]
    for name, digest, size in rows[:-1]:
        assert digest == wheel.record_hash(contents[name]), name
        assert int(size) == len(contents[name])
    assert "=" not in "".join(row[1].removeprefix("sha256=") for row in rows)
