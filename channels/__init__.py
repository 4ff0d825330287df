"""Delivery of planned messages: one adapter per channel/provider and a ledger that never sends twice.

A plain library: nothing here imports Dagster, so the same code runs from a notebook, a CLI or a test.
"""
