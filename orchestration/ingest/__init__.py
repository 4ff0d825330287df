"""Loading a shop's CSV folder into typed raw tables, with bad rows quarantined (docs/data-contract.md)."""
