"""The ``pytest11`` entry point of reviews-etl: registers :mod:`reviews_etl.testing.fixtures`
when the ``testing`` extra (pyspark, chispa) is installed.

Entry points are registered whatever extras were installed, so a plain ``pip install
reviews-etl`` with pytest around must still let pytest start: without the extra, the
``spark`` and ``reviews_df`` fixtures exist but fail with the install command, and nothing
else changes.
"""

from __future__ import annotations

from typing import NoReturn

import pytest

try:
    from reviews_etl.testing.fixtures import pytest_addoption, pytest_configure, reviews_df, spark
except ModuleNotFoundError as missing:
    _INSTALL = (
        f"the reviews-etl pytest plugin needs {missing.name}: pip install 'reviews-etl[testing]'"
    )

    @pytest.fixture(scope="session")
    def spark() -> NoReturn:
        raise pytest.UsageError(_INSTALL)

    @pytest.fixture
    def reviews_df() -> NoReturn:
        raise pytest.UsageError(_INSTALL)

else:
    __all__ = ["pytest_addoption", "pytest_configure", "reviews_df", "spark"]
