"""The trigger's settings from the environment: defaults, trimming, blank values, the
landing rules they give, and every invalid variable named at once."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from reviews_etl.errors import ConfigError, ReviewsEtlError
from reviews_etl.trigger import LandingRules, SkipReason, TriggerSettings, decide
from tests.support.trigger import BUCKET, JOB, ref, settings

# --- settings from the environment --------------------------------------------------------


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set trigger variables: ``env(GLUE_JOB_NAME="x")``; the two required ones by default."""

    def _set(**values: str) -> None:
        for name, value in {"GLUE_JOB_NAME": JOB, "LANDING_BUCKET": BUCKET, **values}.items():
            monkeypatch.setenv(name, value)

    return _set


def test_settings_defaults(env: Callable[..., None]) -> None:
    env()
    loaded = TriggerSettings.from_env()

    assert loaded.glue_job_name == JOB
    assert loaded.landing_bucket == BUCKET
    assert loaded.landing_prefix == ""
    assert loaded.allowed_suffixes == (".csv", ".csv.gz")
    assert loaded.output_path is None
    assert (loaded.manifest_bucket, loaded.manifest_prefix) == (None, "_manifests/")
    assert loaded.job_arguments() == {}
    assert (loaded.max_start_attempts, loaded.retry_base_delay, loaded.retry_max_delay) == (
        5,
        1.0,
        20.0,
    )
    assert loaded.log_level == "INFO"
    assert loaded.rules == LandingRules(landing_bucket=BUCKET)


def test_settings_all_variables(env: Callable[..., None], monkeypatch: pytest.MonkeyPatch) -> None:
    env(
        LANDING_PREFIX="landing/",
        ALLOWED_SUFFIXES=" .CSV , txt ",
        OUTPUT_PATH="s3://reviews-processed/",
        MANIFEST_BUCKET="reviews-scratch",
        MANIFEST_PREFIX="trigger/manifests/",
        MAX_START_ATTEMPTS="3",
        RETRY_BASE_DELAY_SECONDS="0.5",
        RETRY_MAX_DELAY_SECONDS="4",
        LOG_LEVEL="debug",
    )
    monkeypatch.setenv("UNRELATED", "ignored")
    loaded = TriggerSettings.from_env()

    assert loaded.landing_prefix == "landing/"
    assert loaded.allowed_suffixes == (".csv", ".txt")
    assert loaded.output_path == "s3://reviews-processed"
    assert loaded.job_arguments() == {"output_path": "s3://reviews-processed"}
    assert (loaded.manifest_bucket, loaded.manifest_prefix) == (
        "reviews-scratch",
        "trigger/manifests/",
    )
    assert (loaded.max_start_attempts, loaded.retry_base_delay, loaded.retry_max_delay) == (
        3,
        0.5,
        4.0,
    )
    assert loaded.log_level == "DEBUG"
    assert loaded.rules == LandingRules(
        landing_bucket=BUCKET, landing_prefix="landing/", allowed_suffixes=(".csv", ".txt")
    )


def test_settings_are_not_landing_rules_but_give_them() -> None:
    loaded = settings(allowed_suffixes="csv,tsv")

    assert not isinstance(loaded, LandingRules)
    assert isinstance(loaded.rules, LandingRules)
    assert loaded.rules.model_dump() == {
        "landing_bucket": BUCKET,
        "landing_prefix": "landing/",
        "allowed_suffixes": (".csv", ".tsv"),
    }


def test_field_names_and_variable_names_both_work_as_keywords() -> None:
    by_field = TriggerSettings(glue_job_name=JOB, landing_bucket=BUCKET, max_start_attempts=2)
    by_alias = TriggerSettings(GLUE_JOB_NAME=JOB, LANDING_BUCKET=BUCKET, MAX_START_ATTEMPTS=2)

    assert by_field == by_alias
    assert by_field.max_start_attempts == 2


def test_suffixes_are_split_trimmed_lowered_and_dotted(env: Callable[..., None]) -> None:
    env(ALLOWED_SUFFIXES="csv, .TXT")

    assert TriggerSettings.from_env().allowed_suffixes == (".csv", ".txt")


def test_values_are_trimmed(env: Callable[..., None]) -> None:
    env(
        GLUE_JOB_NAME=f"  {JOB}\t",
        LANDING_BUCKET=f" {BUCKET} ",
        LANDING_PREFIX=" landing/ ",
        OUTPUT_PATH=" s3://reviews-processed/out/ ",
        MAX_START_ATTEMPTS=" 4 ",
        LOG_LEVEL=" warning ",
    )
    loaded = TriggerSettings.from_env()

    assert loaded.glue_job_name == JOB
    assert loaded.landing_bucket == BUCKET
    assert loaded.landing_prefix == "landing/"
    assert loaded.output_path == "s3://reviews-processed/out"
    assert loaded.max_start_attempts == 4
    assert loaded.log_level == "WARNING"


@pytest.mark.parametrize("blank", ["", " ", "\t \n"])
def test_blank_variables_count_as_unset(env: Callable[..., None], blank: str) -> None:
    env(
        LANDING_PREFIX=blank,
        ALLOWED_SUFFIXES=blank,
        OUTPUT_PATH=blank,
        MANIFEST_BUCKET=blank,
        MANIFEST_PREFIX=blank,
        MAX_START_ATTEMPTS=blank,
        RETRY_BASE_DELAY_SECONDS=blank,
        RETRY_MAX_DELAY_SECONDS=blank,
        LOG_LEVEL=blank,
    )
    loaded = TriggerSettings.from_env()

    assert loaded.landing_prefix == ""
    assert loaded.allowed_suffixes == (".csv", ".csv.gz")
    assert loaded.output_path is None
    assert (loaded.manifest_bucket, loaded.manifest_prefix) == (None, "_manifests/")
    assert (loaded.max_start_attempts, loaded.retry_base_delay, loaded.retry_max_delay) == (
        5,
        1.0,
        20.0,
    )
    assert loaded.log_level == "INFO"


def test_missing_required_variables_are_named() -> None:
    with pytest.raises(ConfigError) as info:
        TriggerSettings.from_env()

    assert str(info.value) == (
        "invalid trigger settings: GLUE_JOB_NAME is required but not set; "
        "LANDING_BUCKET is required but not set"
    )
    assert isinstance(info.value, ReviewsEtlError)


@pytest.mark.parametrize("blank", ["", "  "])
def test_blank_required_variable_is_missing(monkeypatch: pytest.MonkeyPatch, blank: str) -> None:
    monkeypatch.setenv("GLUE_JOB_NAME", JOB)
    monkeypatch.setenv("LANDING_BUCKET", blank)

    with pytest.raises(ConfigError) as info:
        TriggerSettings.from_env()

    message = str(info.value)
    assert "LANDING_BUCKET is required but not set" in message
    assert "GLUE_JOB_NAME" not in message


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("LANDING_BUCKET", "s3://reviews-landing", "bare bucket name"),
        ("LANDING_BUCKET", "reviews-landing/landing", "bare bucket name"),
        ("LANDING_BUCKET", "Reviews_Landing", "not a valid S3 bucket name"),
        ("LANDING_BUCKET", "ab", "not a valid S3 bucket name"),
        ("LANDING_BUCKET", "x" * 64, "not a valid S3 bucket name"),
        ("LANDING_PREFIX", "/landing/", "must not start with '/'"),
        ("ALLOWED_SUFFIXES", ",, ,", "at least one suffix"),
        ("OUTPUT_PATH", "reviews-processed/out", "must be a URI"),
        ("OUTPUT_PATH", "s3:/reviews-processed", "must be a URI"),
        ("OUTPUT_PATH", "s3:///", "must be a URI"),
        ("MANIFEST_BUCKET", "s3://reviews-scratch", "bare bucket name"),
        ("MANIFEST_BUCKET", "Reviews_Scratch", "not a valid S3 bucket name"),
        ("MANIFEST_PREFIX", "/_manifests/", "must not start with '/'"),
        ("MANIFEST_PREFIX", "_manifests", "must end with '/'"),
        ("MAX_START_ATTEMPTS", "zero", "valid integer"),
        ("MAX_START_ATTEMPTS", "2.5", "valid integer"),
        ("MAX_START_ATTEMPTS", "0", "greater than or equal to 1"),
        ("MAX_START_ATTEMPTS", "-3", "greater than or equal to 1"),
        ("MAX_START_ATTEMPTS", "11", "less than or equal to 10"),
        ("RETRY_BASE_DELAY_SECONDS", "-1", "greater than or equal to 0"),
        ("RETRY_BASE_DELAY_SECONDS", "soon", "valid number"),
        ("RETRY_MAX_DELAY_SECONDS", "1e9", "less than or equal to 300"),
        ("LOG_LEVEL", "chatty", "'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
        ("GLUE_JOB_NAME", "x" * 256, "at most 255 characters"),
    ],
)
def test_invalid_variables_are_named(
    env: Callable[..., None], variable: str, value: str, fragment: str
) -> None:
    env(**{variable: value})
    with pytest.raises(ConfigError) as info:
        TriggerSettings.from_env()

    message = str(info.value)
    assert message.startswith("invalid trigger settings: ")
    assert f"{variable}=" in message
    assert fragment in message


def test_every_invalid_variable_is_named_at_once(env: Callable[..., None]) -> None:
    env(LANDING_BUCKET="s3://reviews-landing", OUTPUT_PATH="out", MAX_START_ATTEMPTS="99")
    with pytest.raises(ConfigError) as info:
        TriggerSettings.from_env()

    message = str(info.value)
    for variable in ("LANDING_BUCKET=", "OUTPUT_PATH=", "MAX_START_ATTEMPTS="):
        assert variable in message
    assert "GLUE_JOB_NAME" not in message


def test_base_delay_above_max_delay_is_refused(env: Callable[..., None]) -> None:
    env(RETRY_BASE_DELAY_SECONDS="10", RETRY_MAX_DELAY_SECONDS="2")
    with pytest.raises(ConfigError) as info:
        TriggerSettings.from_env()

    assert str(info.value) == (
        "invalid trigger settings: RETRY_BASE_DELAY_SECONDS (10.0) must not exceed "
        "RETRY_MAX_DELAY_SECONDS (2.0)"
    )


def test_manifests_may_lie_in_the_landing_bucket() -> None:
    # a blank prefix counts as unset, like every variable: the default folder
    assert settings(manifest_bucket=BUCKET, manifest_prefix=" ").manifest_prefix == "_manifests/"
    # inside the landing prefix is fine while '.json' is not an allowed suffix
    inside = settings(manifest_bucket=BUCKET, manifest_prefix="landing/_manifests/")
    assert inside.manifest_bucket == BUCKET
    assert decide(ref("landing/_manifests/0123.json"), inside.rules).reason == (
        SkipReason.SUFFIX_NOT_ALLOWED
    )


def test_manifests_that_the_landing_rules_would_accept_are_refused(
    env: Callable[..., None],
) -> None:
    env(
        LANDING_PREFIX="landing/",
        ALLOWED_SUFFIXES="csv,json",
        MANIFEST_BUCKET=BUCKET,
        MANIFEST_PREFIX="landing/_manifests/",
    )
    with pytest.raises(ConfigError, match="manifests would start runs"):
        TriggerSettings.from_env()

    env(
        LANDING_PREFIX="landing/",
        ALLOWED_SUFFIXES="csv,json",
        MANIFEST_BUCKET="reviews-scratch",
        MANIFEST_PREFIX="landing/_manifests/",
    )
    assert TriggerSettings.from_env().manifest_bucket == "reviews-scratch"


def test_equal_delays_and_the_range_ends_are_accepted(env: Callable[..., None]) -> None:
    env(MAX_START_ATTEMPTS="10", RETRY_BASE_DELAY_SECONDS="0", RETRY_MAX_DELAY_SECONDS="0")
    loaded = TriggerSettings.from_env()

    assert (loaded.max_start_attempts, loaded.retry_base_delay, loaded.retry_max_delay) == (
        10,
        0.0,
        0.0,
    )
