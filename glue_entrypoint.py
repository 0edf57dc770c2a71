"""AWS Glue script of reviews-etl: ``--JOB_NAME``, ``--source_path``, ``--output_path``
(optional ``--top_n``, ``--max_reject_ratio``, ``--run_id``, ``--catalog_database``).

Runs on Glue with the reviews_etl wheel (``--additional-python-modules``), and locally:
``python glue_entrypoint.py --JOB_NAME local --source_path FILE --output_path DIR``.
"""

import sys

from reviews_etl.errors import ReviewsEtlError
from reviews_etl.job.glue import main

if __name__ == "__main__":
    try:
        result = main(sys.argv)
    except ReviewsEtlError as exc:
        # Glue shows the last line of the error in the console: make it the reason.
        print(f"reviews-etl: error: {exc}", file=sys.stderr)
        raise
    print(result.model_dump_json(indent=2))
