"""`reviews-etl report`: the HTML report of an output root. The output roots here are written
with pyarrow after docs/data-contract.md (no Spark, so these tests are fast); a hostile
customer id, product id, source file name and error text must reach the page as text. The
slow test opens the page in headless Chromium over the DevTools protocol: no console errors,
no request leaves the file, every chart drawn with the number of marks its data implies."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reviews_etl.cli import main
from reviews_etl.config import OutputLayout
from reviews_etl.manifest import STAGES, BatchResult, RunResult
from reviews_etl.report import write_report, write_run_report
from reviews_etl.report.data import load_report_data
from reviews_etl.report.render import script_json
from tests.support.blocking import blocking_env

HOSTILE = "</script><script>window.__pwned=1</script><b>bold</b>\"'&amp;<!--"
UTC = dt.UTC
INGESTED = dt.datetime(2025, 3, 2, 8, 30, tzinfo=UTC)
SOURCES = ("s3://landing/reviews-2025-03.csv", f"s3://landing/{HOSTILE}.csv")
# Reviews per (day, product): product P7 only twice; HOSTILE is a product too.
PRODUCTS = ("P1", "P2", "P3", "P4", HOSTILE, "P6")
DAYS = [dt.date(2025, 1, 1) + dt.timedelta(days=i) for i in range(0, 60, 3)]  # 20 days
CUSTOMERS = (("c-1", 9, 4.5), (HOSTILE, 7, 3.0), ("c-3", 4, 5.0))
RATINGS = ((1, 2), (2, 0), (3, 5), (4, 10), (5, 3))
REJECTS = {
    SOURCES[0]: {"malformed_row": 2, "invalid_rating": 1},
    SOURCES[1]: {"missing_review_id": 3, "duplicate_review_id": 1, "invalid_review_date": 2},
}
GATE_ERROR = f"{SOURCES[1]}: 6 of 8 rows rejected (75.00%), over max_reject_ratio 0.25"


def _write(table: pa.Table, folder: Path) -> None:
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "part-00000.snappy.parquet")
    (folder / "_SUCCESS").write_bytes(b"")  # what Spark leaves next to its files
    (folder / ".part-00000.snappy.parquet.crc").write_bytes(b"not parquet")


def _daily_rows() -> list[dict[str, Any]]:
    rows = []
    for i, day in enumerate(DAYS):
        for j, product in enumerate(PRODUCTS):
            if (i + j) % 2 == 0:  # about half of the (day, product) pairs have reviews
                rows.append({"review_date": day, "product_id": product, "count": 1 + j})
    rows.append({"review_date": DAYS[0], "product_id": "P7", "count": 1})
    rows.append({"review_date": DAYS[-1], "product_id": "P7", "count": 1})
    return rows


def _batch(source: str, status: str, accepted: int, rejects: dict[str, int]) -> BatchResult:
    from reviews_etl.columns import REJECT_REASONS

    by_reason = {r: rejects.get(r, 0) for r in REJECT_REASONS}
    rejected = sum(by_reason.values())
    return BatchResult(
        source=source,
        source_file=source,
        source_id="0123456789abcdef",
        status=status,  # type: ignore[arg-type]
        ingested_at=INGESTED,
        rows_read=accepted + rejected,
        rows_accepted=accepted,
        rows_rejected=rejected,
        rejects_by_reason=by_reason,
        reject_share=rejected / (accepted + rejected),
        curated_path=None,
        rejected_path="s3://processed/rejected/source_id=0123456789abcdef",
    )


def _manifest(run_id: str, started: dt.datetime, batches: list[BatchResult], **extra: Any) -> str:
    run = RunResult(
        run_id=run_id,
        status=extra.pop("status", "succeeded"),
        started_at=started,
        finished_at=started + dt.timedelta(seconds=30),
        output_root="s3://processed",
        sources=[b.source for b in batches],
        batches=batches,
        outputs={},
        output_paths={},
        stage_seconds=extra.pop("stage_seconds", dict.fromkeys(STAGES, 1.5)),
        max_reject_ratio=0.25,
        top_n=5,
        versions={"reviews_etl": "0.1.0", "spark": "3.5.6", "python": "3.11"},
        manifest_path=f"s3://processed/_runs/{run_id}.json",
        **extra,
    )
    return run.model_dump_json(indent=2)


# Runs as the manifests tell them, oldest first: (run_id, status, stages, flagged).
RUNS = (
    ("20250301T080000Z-aaaaaaaa", "succeeded", len(STAGES), False),
    ("jr_gate_failed", "failed", len(STAGES), True),
    ("20250302T083000Z-cccccccc", "succeeded", 4, False),
)


def build_output_root(root: Path, layout: OutputLayout | None = None) -> Path:
    """An output root as a few runs leave it, with hostile values in every text field."""
    layout = layout or OutputLayout()
    analyses = root / layout.analyses
    daily = _daily_rows()
    _write(
        pa.table(
            {
                "review_date": pa.array([r["review_date"] for r in daily], pa.date32()),
                "product_id": [r["product_id"] for r in daily],
                "review_count": pa.array([r["count"] for r in daily], pa.int64()),
                "avg_rating": [4.0] * len(daily),
            }
        ),
        analyses / layout.daily_review_counts,
    )
    _write(
        pa.table(
            {
                "rank": pa.array(range(1, len(CUSTOMERS) + 1), pa.int32()),
                "customer_id": [c[0] for c in CUSTOMERS],
                "review_count": pa.array([c[1] for c in CUSTOMERS], pa.int64()),
                "avg_rating": [c[2] for c in CUSTOMERS],
            }
        ),
        analyses / layout.top_customers,
    )
    total = sum(n for _, n in RATINGS)
    _write(
        pa.table(
            {
                "rating": pa.array([r for r, _ in RATINGS], pa.int32()),
                "review_count": pa.array([n for _, n in RATINGS], pa.int64()),
                "share": [n / total for _, n in RATINGS],
            }
        ),
        analyses / layout.rating_distribution,
    )
    curated = pa.table(
        {
            "review_id": ["r1", "r2"],
            "customer_id": ["c-1", HOSTILE],
            "source_file": [SOURCES[0], SOURCES[0]],
            "ingested_at": pa.array(
                [INGESTED - dt.timedelta(days=1), INGESTED], pa.timestamp("us", tz="UTC")
            ),
        }
    )
    _write(curated, root / layout.curated / "source_id=0123456789abcdef")
    for i, (source, reasons) in enumerate(REJECTS.items()):
        rows = [(source, reason) for reason, n in reasons.items() for _ in range(n)]
        table = pa.table(
            {
                "review_id": [HOSTILE] * len(rows),
                "reject_reason": [reason for _, reason in rows],
                "source_file": [s for s, _ in rows],
                "ingested_at": pa.array([INGESTED] * len(rows), pa.timestamp("us", tz="UTC")),
            }
        )
        _write(table, root / layout.rejected / f"source_id={i}")
    runs = root / layout.runs
    runs.mkdir()
    first, gate, last = (r[0] for r in RUNS)
    stages = dict.fromkeys(STAGES[:4], 2.0)
    started = dt.datetime(2025, 3, 1, 8, tzinfo=UTC)
    manifests = {
        first: _manifest(
            first, started, [_batch(SOURCES[0], "succeeded", 20, REJECTS[SOURCES[0]])]
        ),
        gate: _manifest(
            gate,
            started + dt.timedelta(hours=5),
            [_batch(SOURCES[1], "failed_quality_gate", 2, REJECTS[SOURCES[1]])],
            status="failed",
            error=GATE_ERROR,
        ),
        last: _manifest(last, INGESTED, [], stage_seconds=stages),
    }
    for run_id, text in manifests.items():
        (runs / f"{run_id}.json").write_text(text, encoding="utf-8")
    (runs / "broken.json").write_text("{not json", encoding="utf-8")
    return root


@pytest.fixture
def output_root(tmp_path: Path) -> Path:
    return build_output_root(tmp_path / "out")


# --- what the page says --------------------------------------------------------------------


class _Page(HTMLParser):
    """Start tags by name, text outside scripts, and the text of each script element."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.text: list[str] = []
        self._script: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag == "script":
            self._script = dict(attrs)
            self.scripts.append((self._script, ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)
        else:
            self.text.append(data)


def parse(path: str | Path) -> _Page:
    page = _Page()
    page.feed(Path(path).read_text(encoding="utf-8"))
    return page


def specs(page: _Page) -> dict[str, dict[str, Any]]:
    return {a["data-chart"]: json.loads(t) for a, t in page.scripts if a.get("data-chart")}


def test_report_aggregates_the_outputs(output_root: Path) -> None:
    data = load_report_data(str(output_root))
    # Every day from the first to the last review, the days without reviews as 0.
    assert len(data.daily_totals) == (DAYS[-1] - DAYS[0]).days + 1
    per_day: dict[dt.date, int] = {}
    for row in _daily_rows():
        per_day[row["review_date"]] = per_day.get(row["review_date"], 0) + row["count"]
    assert {
        r["review_date"]: r["review_count"] for r in data.daily_totals if r["review_count"]
    } == {d.isoformat(): n for d, n in per_day.items()}
    # The five products with most reviews (P7 has two), for every month of the span.
    assert {r["product_id"] for r in data.product_months} == {"P2", "P3", "P4", HOSTILE, "P6"}
    assert len(data.product_months) == 5 * 2  # January and February 2025
    assert [r["customer_id"] for r in data.top_customers] == [c[0] for c in CUSTOMERS]
    assert {(r["source_file"], r["reject_reason"]): r["count"] for r in data.rejects} == {
        (s, reason): n for s, reasons in REJECTS.items() for reason, n in reasons.items()
    }
    assert [r.run_id for r in data.runs] == ["broken", *(r[0] for r in RUNS)]
    assert data.runs[0].status == "unreadable"
    assert data.runs[2].gate_failures == (SOURCES[1],)
    assert data.newest_review_date == DAYS[-1]
    assert data.newest_ingest == INGESTED
    assert data.missing == []


def test_report_is_one_offline_page_with_every_section(output_root: Path) -> None:
    path = write_report(str(output_root))
    assert path == f"{output_root}/reports/latest.html"
    html = Path(path).read_text(encoding="utf-8")
    page = parse(path)
    text = " ".join(page.text)
    for section in ("Reviews over time", "Top customers", "Rejects by reason", "Run history"):
        assert section in text
    assert DAYS[-1].isoformat() in text  # newest review date
    assert "2025-03-02 08:30:00 UTC" in text  # newest ingest
    assert text.count("quality gate") == 1
    assert GATE_ERROR in text
    assert 'class="failed' in html  # the failed runs' rows are highlighted
    # Offline: no element loads anything; scripts and styles are inline.
    assert not any(a.get("src") for a, _ in page.scripts)
    assert page.tags.get("link", 0) == 0
    assert page.tags.get("img", 0) == 0
    assert "default-src 'none'" in html  # and the browser is told to refuse any request
    assert set(specs(page)) == {
        "chart-reviews-per-day",
        "chart-top-products",
        "chart-top-customers",
        "chart-ratings",
        "chart-rejects",
        "chart-run-rows",
        "chart-run-stages",
    }


def test_hostile_values_stay_text(output_root: Path) -> None:
    page = parse(write_report(str(output_root)))
    charts = specs(page)
    # Nothing ended a script early or opened an element: one script per chart, the bundle
    # and the loader; no <b> from the data.
    assert page.tags["script"] == len(charts) + 2
    assert "b" not in page.tags
    text = "".join(page.text)
    assert text.count(HOSTILE) == 3  # the rejects table, the gate failure, the error text
    for attrs, script in page.scripts:
        if attrs.get("data-chart"):
            assert not set(script) & {"<", ">", "&"}
    # ... and the values arrive unchanged in the charts' data.
    for chart in ("chart-top-customers", "chart-top-products", "chart-rejects"):
        assert any(HOSTILE in s for s in strings(charts[chart])), chart


def strings(value: Any) -> Any:
    """Every string in a JSON value, keys excepted."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def test_script_json_cannot_end_its_script() -> None:
    value = {"a": "</script><!--<script>&\u2028", "b": [1.5, None]}
    text = str(script_json(value))
    assert not set(text) & {"<", ">", "&", "\u2028"}
    assert json.loads(text) == value


def test_a_layout_with_other_folder_names(tmp_path: Path) -> None:
    layout = OutputLayout(
        curated="curated", analyses="analyses", top_customers="top", runs="manifests"
    )
    root = build_output_root(tmp_path / "out", layout)
    data = load_report_data(str(root), layout)
    assert data.top_customers
    assert data.runs_total == 4
    assert data.missing == []
    assert len(load_report_data(str(root)).missing) == 4  # the default names are not there


def test_large_daily_counts_are_aggregated_before_charting(tmp_path: Path) -> None:
    days = 3 * 365
    n = 300_000  # (day, product) rows over 1,000 products
    table = pa.table(
        {
            "review_date": pa.array(
                [dt.date(2022, 1, 1) + dt.timedelta(days=i % days) for i in range(n)], pa.date32()
            ),
            "product_id": [f"P{i % 1000:04d}" for i in range(n)],
            "review_count": pa.array([1 + i % 3 for i in range(n)], pa.int64()),
            "avg_rating": [4.0] * n,
        }
    )
    _write(table, tmp_path / "out" / "Athena Results" / "daily_review_counts")
    path = write_report(str(tmp_path / "out"))
    data = load_report_data(str(tmp_path / "out"))
    assert len(data.daily_totals) == days
    assert len(data.product_months) == 5 * 36
    assert sum(r["review_count"] for r in data.daily_totals) == sum(1 + i % 3 for i in range(n))
    assert os.path.getsize(path) < 1_500_000  # the bundle (~0.9 MB) and a few thousand points


def test_an_empty_output_root_gets_a_page_that_says_so(tmp_path: Path) -> None:
    runs = tmp_path / "out" / "_runs"
    runs.mkdir(parents=True)
    (runs / "r1.json").write_text(
        _manifest("r1", INGESTED, [], status="failed", error="Spark died"), encoding="utf-8"
    )
    page = parse(write_report(str(tmp_path / "out")))
    text = " ".join(page.text)
    assert text.count("No data yet.") == 3  # volume, customers, ratings
    assert "No rejected rows." in text
    assert "Spark died" in text
    assert set(specs(page)) == {"chart-run-rows", "chart-run-stages"}


def test_report_reads_and_writes_s3(output_root: Path, tmp_path: Path, monkeypatch) -> None:
    import boto3

    from tests.support.awsserver import fake_aws_env, moto_server

    with moto_server() as url:
        for name, value in fake_aws_env(tmp_path, {}).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)  # boto3 and pyarrow both honour it
        monkeypatch.setenv("AWS_REGION", "us-east-1")
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="processed")
        for path in output_root.rglob("*"):
            if path.is_file():
                key = f"root/{path.relative_to(output_root).as_posix()}"
                s3.upload_file(str(path), "processed", key)
        assert write_report("s3://processed/root") == "s3://processed/root/reports/latest.html"
        assert load_report_data("s3://processed/root").missing == []
        written = s3.get_object(Bucket="processed", Key="root/reports/latest.html")
        assert written["ContentType"] == "text/html; charset=utf-8"
        assert "jr_gate_failed" in written["Body"].read().decode("utf-8")


# --- the command --------------------------------------------------------------------------


def test_cli_writes_the_default_path_or_out(output_root: Path, tmp_path: Path, capsys) -> None:
    assert main(["report", str(output_root)]) == 0
    assert (output_root / "reports" / "latest.html").is_file()
    assert str(output_root / "reports" / "latest.html") in capsys.readouterr().out
    out = tmp_path / "elsewhere" / "r.html"
    assert main(["report", str(output_root), "--out", str(out)]) == 0
    assert out.is_file()
    assert not list(out.parent.glob("*.partial"))


def test_cli_refuses_a_folder_without_outputs(tmp_path: Path, capsys) -> None:
    assert main(["report", str(tmp_path / "nothing-here")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "no reviews-etl outputs there" in err[0]
    assert not (tmp_path / "nothing-here").exists()


def test_missing_report_extra_exits_2_with_the_install_hint(
    output_root: Path, tmp_path: Path
) -> None:
    env = blocking_env(tmp_path / "block", "altair", "vl_convert")
    done = subprocess.run(
        [sys.executable, "-m", "reviews_etl.cli", "report", str(output_root)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert 'pip install "reviews-etl[report]"' in done.stderr
    assert "altair" in done.stderr
    assert not (output_root / "reports").exists()


def test_the_run_report_never_fails_the_run(output_root: Path, caplog, monkeypatch) -> None:
    path = write_run_report(str(output_root), "jr_gate_failed")
    assert path == f"{output_root}/reports/jr_gate_failed.html"
    assert '<tr class="failed current">' in Path(path).read_text(encoding="utf-8")

    from reviews_etl.report import render

    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("chart exploded\nsecond line")

    monkeypatch.setattr(render, "render_html", broken)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="reviews_etl"):
        assert write_run_report(str(output_root), "run-2") is None
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    line = str(record.getMessage())
    assert "\n" not in line
    assert "run_report_failed" in line
    assert "chart exploded" in line
    assert not (output_root / "reports" / "run-2.html").exists()


# --- in a browser -------------------------------------------------------------------------


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("Chromium is not installed: make test installs it (apt-get install -y chromium)")


class DevTools:
    """Headless Chromium driven over the DevTools protocol, recording every event."""

    def __init__(self, executable: str, profile: Path) -> None:
        import websocket  # websocket-client, a dev dependency

        self.process = subprocess.Popen(
            [
                executable,
                "--headless",
                "--no-sandbox",  # CI runs as root
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                # Belt and braces: even a request that slipped past the page's CSP resolves
                # nowhere; it still shows up as Network.requestWillBeSent below.
                "--host-resolver-rules=MAP * ~NOTFOUND",
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                "--window-size=1200,900",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and len(port_file.read_text().splitlines()) >= 2):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("Chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = int(port_file.read_text().splitlines()[0])
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://127.0.0.1:{port}/json/list", timeout=30) as answer:
            page = next(t for t in json.load(answer) if t["type"] == "page")
        self.socket = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True
        )
        self.events: list[dict[str, Any]] = []
        self._id = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        self.socket.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            self.events.append(message)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.call("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


MARKS_JS = """JSON.stringify(Array.from(document.querySelectorAll("figure.chart")).map(f => ({
  id: f.id,
  rendered: f.dataset.rendered || "",
  rect: f.querySelectorAll("g.role-mark.mark-rect > path").length,
  line: f.querySelectorAll("g.role-mark.mark-line > path").length,
  text: f.querySelectorAll("g.role-mark.mark-text > text").length,
})))"""


def expected_marks() -> dict[str, dict[str, int]]:
    """Marks per chart, from the data written above (not from the code under test)."""
    readable = len(RUNS)
    return {
        "chart-reviews-per-day": {"rect": 0, "line": 2, "text": 0},  # per day, mean
        "chart-top-products": {"rect": 0, "line": 5, "text": 0},
        "chart-top-customers": {"rect": len(CUSTOMERS), "line": 0, "text": 0},
        "chart-ratings": {"rect": 5, "line": 0, "text": 5},
        "chart-rejects": {"rect": sum(len(r) for r in REJECTS.values()), "line": 0, "text": 0},
        # accepted and rejected per run; the failed run flagged with a text mark
        "chart-run-rows": {"rect": 2 * readable, "line": 0, "text": sum(r[3] for r in RUNS)},
        "chart-run-stages": {"rect": sum(r[2] for r in RUNS), "line": 0, "text": 0},
    }


@pytest.mark.slow
@pytest.mark.browser
def test_report_renders_offline_in_chromium(output_root: Path, tmp_path: Path) -> None:
    executable = _chromium()
    url = Path(write_report(str(output_root))).as_uri()
    browser = DevTools(executable, tmp_path / "profile")
    try:
        for domain in ("Network", "Runtime", "Log", "Page"):
            browser.call(f"{domain}.enable")
        browser.call("Page.navigate", url=url)
        deadline = time.monotonic() + 90
        rendered = None
        while rendered is None and time.monotonic() < deadline:
            rendered = browser.evaluate("document.body && document.body.dataset.chartsRendered")
            time.sleep(0.2)
        marks = json.loads(browser.evaluate(MARKS_JS))
        pwned = browser.evaluate("typeof window.__pwned")
        table_text = browser.evaluate("document.getElementById('rejects-table').textContent")
        browser.evaluate("1")  # collects the events sent before this answer
    finally:
        browser.close()

    events = browser.events
    requests = [
        e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"
    ]
    assert requests == [url]  # the page itself, and nothing else
    problems = [
        e["params"]
        for e in events
        if e["method"] == "Runtime.exceptionThrown"
        or (
            e["method"] == "Runtime.consoleAPICalled"
            and e["params"]["type"] in {"error", "warning", "assert"}
        )
        or (
            e["method"] == "Log.entryAdded"
            and e["params"]["entry"]["level"] in {"error", "warning"}
        )
    ]
    assert problems == []
    assert rendered == str(len(expected_marks()))
    assert {m["id"]: m["rendered"] for m in marks} == dict.fromkeys(expected_marks(), "true")
    assert {m.pop("id"): {k: m[k] for k in ("rect", "line", "text")} for m in marks} == (
        expected_marks()
    )
    assert pwned == "undefined"
    assert HOSTILE in table_text
