"""Adapters built from the environment, with an account's own limits in place of the published ones."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from channels.delivery import deliver
from channels.fakes import FakeSet
from channels.fakes.workload import messages
from channels.ledger import Ledger
from channels.registry import apply_limits, from_env


def _webhook_env(fakes: FakeSet, **extra: str) -> dict[str, str]:
    hook = fakes.describe()["webhook"]
    return {"DANGOL_WEBHOOK_SECRET": hook["secret"], "DANGOL_WEBHOOK_URL": hook["url"], **extra}


def test_limits_default_to_what_the_class_declares(fakes: FakeSet) -> None:
    adapter = from_env("webhook", _webhook_env(fakes))
    assert (adapter.limits.rate_per_second, adapter.limits.concurrency) == (None, 32)


def test_environment_sets_rate_and_concurrency_on_that_instance_only(fakes: FakeSet) -> None:
    env = _webhook_env(fakes, DANGOL_WEBHOOK_RATE_PER_SECOND="25", DANGOL_WEBHOOK_CONCURRENCY="3")
    adapter = from_env("webhook", env)
    assert (adapter.limits.rate_per_second, adapter.limits.concurrency) == (25.0, 3)
    assert from_env("webhook", _webhook_env(fakes)).limits.concurrency == 32


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DANGOL_WEBHOOK_RATE_PER_SECOND", "0", "must be positive"),
        ("DANGOL_WEBHOOK_RATE_PER_SECOND", "fast", "could not convert"),
        ("DANGOL_WEBHOOK_CONCURRENCY", "0", "at least 1"),
    ],
)
def test_bad_limits_are_refused_naming_the_variable(fakes: FakeSet, variable: str, value: str, message: str) -> None:
    adapter = from_env("webhook", _webhook_env(fakes))
    with pytest.raises(ValueError, match=message):
        apply_limits(adapter, {variable: value})


def test_delivery_keeps_to_a_configured_rate(fakes: FakeSet, tmp_path: Path) -> None:
    """30 requests at 20 a second, 32 threads: the shared limiter spreads them over about 1.4 s."""
    desc = fakes.describe()
    adapter = from_env("webhook", _webhook_env(fakes, DANGOL_WEBHOOK_RATE_PER_SECOND="20"))
    batch = messages("webhook", 30, desc, campaign_id="rate")
    with adapter, Ledger(tmp_path / "ledger.sqlite") as ledger:
        started = time.monotonic()
        report = deliver(batch, adapter, ledger)
        elapsed = time.monotonic() - started
    assert report.accepted == 30
    assert len(fakes.webhook.received) == 30
    # The bucket starts with 2 tokens (a tenth of a second's worth), then 20 a second: 28 / 20 = 1.4 s.
    assert elapsed >= 1.3, f"30 requests at 20/s took only {elapsed:.2f} s"
