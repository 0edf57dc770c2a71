"""``python -m reviews_etl.cli``."""

import sys

from reviews_etl.cli import main

sys.exit(main())
