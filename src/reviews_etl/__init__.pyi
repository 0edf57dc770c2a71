# The public API of reviews_etl, listed once. __init__.py reads this file to load each name
# on first use (so the package imports without pyspark); type checkers read it for the types.
from reviews_etl._version import __version__ as __version__
from reviews_etl.config import OutputLayout as OutputLayout
from reviews_etl.config import PipelineConfig as PipelineConfig
from reviews_etl.errors import ConfigError as ConfigError
from reviews_etl.errors import EmptySourceError as EmptySourceError
from reviews_etl.errors import InvalidHeaderError as InvalidHeaderError
from reviews_etl.errors import MissingColumnsError as MissingColumnsError
from reviews_etl.errors import QualityGateError as QualityGateError
from reviews_etl.errors import ReviewsEtlError as ReviewsEtlError
from reviews_etl.errors import SourceError as SourceError
from reviews_etl.errors import SourceNotFoundError as SourceNotFoundError
from reviews_etl.errors import UnreadableSourceError as UnreadableSourceError
from reviews_etl.job.analyses import daily_review_counts as daily_review_counts
from reviews_etl.job.analyses import latest_per_review_id as latest_per_review_id
from reviews_etl.job.analyses import rating_distribution as rating_distribution
from reviews_etl.job.analyses import top_customers as top_customers
from reviews_etl.job.pipeline import run_pipeline as run_pipeline
from reviews_etl.job.reader import read_reviews_csv as read_reviews_csv
from reviews_etl.job.session import build_spark_session as build_spark_session
from reviews_etl.job.transforms import add_lineage as add_lineage
from reviews_etl.job.transforms import clean_reviews as clean_reviews
from reviews_etl.job.transforms import quarantine_reviews as quarantine_reviews
from reviews_etl.job.transforms import validate_reviews as validate_reviews
from reviews_etl.manifest import BatchResult as BatchResult
from reviews_etl.manifest import RunResult as RunResult
