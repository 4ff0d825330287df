"""The typed run config of delivery, as the launchpad shows it (and a later launch form can fill in)."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg
from pydantic import Field

from orchestration.campaigns.config import PolicyConfig
from orchestration.campaigns.handoff import RunMode


class PastDelivery(dg.Config):
    """An explicit opt-in to deliver sends older than the catch-up window (a day missed by an outage)."""

    max_age_hours: float = Field(
        gt=0, le=24 * 14, description="Deliver sends at most this many hours past their scheduled time."
    )
    requested_by: str = Field(min_length=1, description="Who asked for it (recorded with the run).")
    note: str = Field(default="", description="Why (recorded with the run).")


class DeliveryConfig(dg.Config):
    """How this run delivers. The backfill dialog cannot attach config: a backfill gets the safe default."""

    mode: RunMode | None = Field(
        default=None,
        description="plan: compute send lists and previews, deliver nothing. send: hand the sends that are due"
        " now to the providers. Unset: send for a single day's run, plan for a backfill (a run over several"
        " days, or one launched by a backfill).",
    )
    deliver_past: PastDelivery | None = Field(
        default=None,
        description="Opt-in to deliver sends older than the catch-up window (campaigns/_policy.yaml"
        " delivery.catch_up_hours), up to a maximum age; records who asked. Only with mode send.",
    )


@dataclass(frozen=True)
class RunDecision:
    mode: RunMode
    max_age: timedelta
    why: str


def decide_run(
    config: DeliveryConfig, first: date, last: date, tags: Mapping[str, str], policy: PolicyConfig
) -> RunDecision:
    """The run's mode and the oldest send it may deliver, from its typed config and what kind of run it is."""
    backfill = first != last or "dagster/backfill" in tags
    catch_up = timedelta(hours=policy.delivery.catch_up_hours)
    if config.mode is None:
        mode = RunMode.PLAN if backfill else RunMode.SEND
        why = f"mode {mode} (default for {'a backfill' if backfill else 'a single-day run'})"
    else:
        mode = config.mode
        why = f"mode {mode} (asked for in the run's config)"
    if config.deliver_past is not None:
        if mode is not RunMode.SEND:
            raise dg.Failure("deliver_past only applies to mode send: set mode: send to deliver past sends")
        past = config.deliver_past
        return RunDecision(
            mode,
            max(catch_up, timedelta(hours=past.max_age_hours)),
            f"{why}; sends up to {past.max_age_hours:g} h late delivered on request of {past.requested_by}",
        )
    return RunDecision(mode, catch_up, why)
