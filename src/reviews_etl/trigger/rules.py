"""Landing rules: which arrived objects start a run. Pure: no AWS call, no Spark."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from reviews_etl.trigger.objects import ObjectRef, SkipReason

# Gzipped CSV too: Spark reads ``.csv.gz`` as CSV. Matched case-insensitively.
DEFAULT_SUFFIXES = (".csv", ".csv.gz")


def relative_prefix(prefix: str) -> str:
    if prefix.startswith("/"):
        raise ValueError(
            f"prefix {prefix!r} must not start with '/' (keys are relative: 'landing/')"
        )
    return prefix


def split_suffixes(value: object) -> object:
    """``".csv, TXT"`` or ``[".csv", "txt"]`` -> ``(".csv", ".txt")``: trimmed, lower-case,
    with a leading dot, duplicates dropped. Anything else is returned for pydantic to refuse."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        return value
    suffixes = []
    for item in items:
        if not isinstance(item, str):
            return value
        suffix = item.strip().lower()
        if suffix:
            suffixes.append(suffix if suffix.startswith(".") else f".{suffix}")
    if not suffixes:
        raise ValueError("at least one suffix is required, e.g. '.csv'")
    return tuple(dict.fromkeys(suffixes))


# Field types shared with the trigger's settings, so both validate the same way.
LandingPrefix = Annotated[str, AfterValidator(relative_prefix)]
Suffixes = Annotated[tuple[str, ...], BeforeValidator(split_suffixes)]


class LandingRules(BaseModel):
    """Which objects start a run. ``landing_bucket`` is an S3 bucket or a local landing root.

    ``landing_prefix`` is a plain string prefix of the key, as in S3 notification filters
    (``landing/`` means the folder, ``landing`` also matches ``landing-old/x.csv``).
    ``allowed_suffixes`` match the end of the key case-insensitively; a comma-separated
    string is accepted and a missing leading dot is added (``csv`` -> ``.csv``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    landing_bucket: str = Field(min_length=1)
    landing_prefix: LandingPrefix = ""
    allowed_suffixes: Suffixes = DEFAULT_SUFFIXES


class Decision(BaseModel):
    """Start a run for the object, or skip it with a reason (never an error)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: bool
    reason: SkipReason | None = None
    detail: str = ""

    @model_validator(mode="after")
    def _reason_iff_skip(self) -> Decision:
        if self.start == (self.reason is not None):
            raise ValueError("a skip needs a reason and a start has none")
        return self


def _skip(reason: SkipReason, detail: str) -> Decision:
    return Decision(start=False, reason=reason, detail=detail)


def decide(ref: ObjectRef, rules: LandingRules) -> Decision:
    """Apply the landing rules to one object; the first failing rule names the reason."""
    if ref.bucket != rules.landing_bucket:
        return _skip(
            SkipReason.OTHER_BUCKET,
            f"bucket {ref.bucket!r} is not the landing bucket {rules.landing_bucket!r}",
        )
    if not ref.key.startswith(rules.landing_prefix):
        return _skip(
            SkipReason.OUTSIDE_PREFIX,
            f"key {ref.key!r} is outside the landing prefix {rules.landing_prefix!r}",
        )
    if ref.key.endswith("/"):
        return _skip(SkipReason.FOLDER_MARKER, f"key {ref.key!r} is a folder marker")
    if not ref.key.lower().endswith(rules.allowed_suffixes):
        return _skip(
            SkipReason.SUFFIX_NOT_ALLOWED,
            f"key {ref.key!r} does not end with one of {', '.join(rules.allowed_suffixes)}",
        )
    if ref.size == 0:
        return _skip(SkipReason.EMPTY_OBJECT, f"object {ref.key!r} is empty (0 bytes)")
    return Decision(start=True)
