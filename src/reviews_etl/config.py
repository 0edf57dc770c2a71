"""Pipeline configuration: pydantic models that refuse bad values with a clear message."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from reviews_etl.errors import ConfigError, describe_validation_error

DEFAULT_TOP_N = 5
DEFAULT_MAX_REJECT_RATIO = 0.25

FolderName = Annotated[str, Field(min_length=1, max_length=255)]


class OutputLayout(BaseModel):
    """Folder names under the output root. The defaults match the Athena tables' locations."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    curated: FolderName = "processed-data"
    rejected: FolderName = "rejected"
    analyses: FolderName = "Athena Results"
    daily_review_counts: FolderName = "daily_review_counts"
    top_customers: FolderName = "top_5_customers"
    rating_distribution: FolderName = "rating_distribution"
    runs: FolderName = "_runs"

    @field_validator("*")
    @classmethod
    def _plain_folder_name(cls, value: str) -> str:
        if value != value.strip() or value in {".", ".."} or "/" in value or "\\" in value:
            raise ValueError(
                f"folder name {value!r} must be one plain path segment "
                "(no slashes, no surrounding spaces, not '.' or '..')"
            )
        return value

    @model_validator(mode="after")
    def _distinct_top_level(self) -> OutputLayout:
        top = [self.curated, self.rejected, self.analyses, self.runs]
        if len(set(top)) != len(top):
            raise ValueError(f"curated, rejected, analyses and runs folders must differ: {top}")
        inner = [self.daily_review_counts, self.top_customers, self.rating_distribution]
        if len(set(inner)) != len(inner):
            raise ValueError(f"analysis folders must differ: {inner}")
        return self


class PipelineConfig(BaseModel):
    """Everything one run needs. ``sources`` are processed as batches in the order given."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sources: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    output_root: Annotated[str, Field(min_length=1)]
    layout: OutputLayout = OutputLayout()
    top_n: Annotated[int, Field(ge=1, le=10_000)] = DEFAULT_TOP_N
    max_reject_ratio: Annotated[float, Field(ge=0.0, le=1.0)] = DEFAULT_MAX_REJECT_RATIO
    # Glue passes its JOB_RUN_ID here so manifests and job runs line up; otherwise generated.
    run_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")] | None = None
    # Output files per analysis; the analyses are small, so one file each is the default.
    analysis_files: Annotated[int, Field(ge=1, le=1000)] = 1
    # Glue Data Catalog database whose `reviews` and `rejected_reviews` tables get each
    # batch's partition registered; None leaves the catalog alone.
    catalog_database: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,255}$")] | None = None

    @field_validator("sources")
    @classmethod
    def _strip_sources(cls, sources: list[str]) -> list[str]:
        stripped = [s.strip() for s in sources]
        if any(not s for s in stripped):
            raise ValueError("a source path is blank")
        return stripped

    @field_validator("output_root")
    @classmethod
    def _strip_root(cls, root: str) -> str:
        root = root.strip().rstrip("/")
        if not root:
            raise ValueError("output_root is blank")
        return root

    @classmethod
    def build(cls, **values: object) -> PipelineConfig:
        """Like the constructor, but raises :class:`ConfigError` with one readable line."""
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise ConfigError(
                describe_validation_error(exc, "invalid configuration: ", whole="config")
            ) from exc
