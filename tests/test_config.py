"""Configuration models refuse bad values with a message that names the setting."""

from __future__ import annotations

import pytest

from reviews_etl import ConfigError, OutputLayout, PipelineConfig


def test_defaults_match_the_contract() -> None:
    config = PipelineConfig(sources=["a.csv"], output_root="out/")
    assert (config.top_n, config.max_reject_ratio, config.output_root) == (5, 0.25, "out")
    assert config.layout == OutputLayout(
        curated="processed-data",
        rejected="rejected",
        analyses="Athena Results",
        daily_review_counts="daily_review_counts",
        top_customers="top_5_customers",
        rating_distribution="rating_distribution",
        runs="_runs",
    )


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({"sources": [], "output_root": "o"}, "sources"),
        ({"sources": ["  "], "output_root": "o"}, "blank"),
        ({"sources": ["a"], "output_root": " "}, "output_root"),
        ({"sources": ["a"], "output_root": "o", "top_n": 0}, "top_n"),
        ({"sources": ["a"], "output_root": "o", "max_reject_ratio": 1.5}, "max_reject_ratio"),
        ({"sources": ["a"], "output_root": "o", "run_id": "../x"}, "run_id"),
        ({"sources": ["a"], "output_root": "o", "surprise": 1}, "surprise"),
        ({"sources": ["a"], "output_root": "o", "layout": {"curated": "a/b"}}, "plain path"),
        (
            {"sources": ["a"], "output_root": "o", "layout": {"rejected": "processed-data"}},
            "differ",
        ),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(values, needle) -> None:
    with pytest.raises(ConfigError, match="invalid configuration") as info:
        PipelineConfig.build(**values)
    assert needle in str(info.value)
