"""Shared test helpers: the CrisisLexT6 location (CI always has it: missing data fails loudly)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.crisislex import data_dir
from ingest.errors import DatasetError


@pytest.fixture(scope="session")
def crisislex_dir() -> Path:
    try:
        return data_dir()
    except DatasetError as exc:
        pytest.fail(f"{exc}", pytrace=False)
