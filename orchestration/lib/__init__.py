"""Dagster-aware helpers that are not definitions."""
