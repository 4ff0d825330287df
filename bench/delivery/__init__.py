"""Delivery throughput benchmark: our adapters + ledger against a bare requests loop, same fakes."""
