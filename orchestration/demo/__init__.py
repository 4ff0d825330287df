"""A deterministic Korean D2C demo shop, written as CSV files in the input data contract."""
