"""Tests here need the parsed dbt manifest."""

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _parsed_dbt(dbt_manifest: Path) -> None:
    """These tests load the Dagster definitions or run dbt: the manifest must be parsed first."""
