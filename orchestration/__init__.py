"""dangol's Dagster code location."""
