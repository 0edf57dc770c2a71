"""Every output of a run, read back with pyarrow (not Spark) as sorted row multisets."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

LINEAGE = {"run_id", "ingested_at"}
OUTPUTS = (
    "processed-data",
    "rejected",
    "Athena Results/daily_review_counts",
    "Athena Results/top_5_customers",
    "Athena Results/rating_distribution",
)


def outputs(root: Path) -> dict[str, list[str]]:
    """Every output as a sorted multiset of rows (lineage columns left out), read with
    pyarrow, which, unlike Spark, reads every Parquet file it is given."""
    found = {}
    for name in OUTPUTS:
        rows = []
        for file in sorted((root / name).rglob("*.parquet")):
            if any(part.startswith(("_", ".")) for part in file.relative_to(root / name).parts):
                continue  # what Spark and Athena skip too: _temporary/, hidden files
            table = pq.read_table(file)
            keep = [c for c in table.column_names if c not in LINEAGE]
            rows += [repr(sorted(r.items())) for r in table.select(keep).to_pylist()]
        found[name] = sorted(rows)
    return found
