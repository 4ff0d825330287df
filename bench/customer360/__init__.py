"""Benchmark: the customer 360 and segments through dbt vs one hand-written DuckDB query."""
