"""The landing rules: which objects start a run (``decide``), in S3 and in a local folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviews_etl.trigger import (
    Decision,
    LandingRules,
    LocalObjectRef,
    S3ObjectRef,
    SkipReason,
    decide,
)
from tests.support.trigger import BUCKET, ref, rules

# --- decide -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("object_ref", "reason"),
    [
        (ref("landing/a.csv"), None),
        (ref("landing/sub/dir/a.csv"), None),
        (ref("landing/UPPER.CSV"), None),
        (ref("landing/Mixed.Csv"), None),
        (ref("landing/a.csv", size=None), None),
        (ref("landing/a.csv", bucket="other-bucket"), SkipReason.OTHER_BUCKET),
        (ref("elsewhere/a.csv"), SkipReason.OUTSIDE_PREFIX),
        (ref("Landing/a.csv"), SkipReason.OUTSIDE_PREFIX),  # S3 keys are case-sensitive
        (ref("landing/sub/", size=0), SkipReason.FOLDER_MARKER),
        (ref("landing/notes.txt"), SkipReason.SUFFIX_NOT_ALLOWED),
        (ref("landing/a.csv.gz"), None),
        (ref("landing/REVIEWS.CSV.GZ"), None),
        (ref("landing/a.gz"), SkipReason.SUFFIX_NOT_ALLOWED),
        (ref("landing/a.csv.gz.tmp"), SkipReason.SUFFIX_NOT_ALLOWED),
        (ref("landing/a.csv.tmp"), SkipReason.SUFFIX_NOT_ALLOWED),
        (ref("landing/a.csv", size=0), SkipReason.EMPTY_OBJECT),
        (ref("elsewhere/a.txt", bucket="other-bucket", size=0), SkipReason.OTHER_BUCKET),
    ],
)
def test_decide(object_ref: S3ObjectRef, reason: SkipReason | None) -> None:
    decision = decide(object_ref, rules())

    assert decision.start is (reason is None)
    assert decision.reason == reason
    if reason is not None:
        assert object_ref.key in decision.detail or object_ref.bucket in decision.detail


def test_decide_without_prefix_and_with_several_suffixes() -> None:
    landing = LandingRules(landing_bucket=BUCKET, allowed_suffixes="CSV, .tsv,.csv.gz")

    assert landing.allowed_suffixes == (".csv", ".tsv", ".csv.gz")
    assert decide(ref("top.csv"), landing).start
    assert decide(ref("deep/x.TSV"), landing).start
    assert decide(ref("a.CSV.GZ"), landing).start
    assert decide(ref("a.json"), landing).reason == SkipReason.SUFFIX_NOT_ALLOWED


def test_prefix_is_a_plain_string_prefix_as_in_s3_filters() -> None:
    landing = LandingRules(landing_bucket=BUCKET, landing_prefix="landing")

    assert decide(ref("landing-old/a.csv"), landing).start
    assert not decide(ref("landing-old/a.csv"), rules()).start


def test_landing_rules_refuse_an_absolute_prefix_and_no_suffix() -> None:
    with pytest.raises(ValueError, match="must not start with '/'"):
        LandingRules(landing_bucket=BUCKET, landing_prefix="/landing/")
    with pytest.raises(ValueError, match="at least one suffix"):
        LandingRules(landing_bucket=BUCKET, allowed_suffixes=" , ")


def test_decide_works_for_local_files(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    good = tmp_path / "in" / "reviews.csv"
    good.write_text("review_id,product_id\n", encoding="utf-8")
    empty = tmp_path / "in" / "empty.csv"
    empty.touch()
    landing = LandingRules(landing_bucket=str(tmp_path.resolve()), landing_prefix="in/")

    assert decide(LocalObjectRef.from_path(tmp_path, good), landing).start
    assert decide(LocalObjectRef.from_path(tmp_path, empty), landing).reason == (
        SkipReason.EMPTY_OBJECT
    )
    assert decide(LocalObjectRef.from_path(tmp_path, tmp_path / "in"), landing).reason == (
        SkipReason.FOLDER_MARKER
    )
    other_root = LandingRules(landing_bucket=str(tmp_path / "elsewhere"))
    assert decide(LocalObjectRef.from_path(tmp_path, good), other_root).reason == (
        SkipReason.OTHER_BUCKET
    )


def test_decision_needs_a_reason_exactly_when_skipping() -> None:
    with pytest.raises(ValueError, match="reason"):
        Decision(start=False)
    with pytest.raises(ValueError, match="reason"):
        Decision(start=True, reason=SkipReason.EMPTY_OBJECT)
