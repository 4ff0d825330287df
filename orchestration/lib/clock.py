"""The shop's clock, as a resource: delivery and the due-sends sensor ask it what time it is.

Injectable so that tests and the demo can fix "now" (and run the hand-off at a send's due time) without
patching anything; unset, it is the real clock. Times are naive shop-local, like every planned send.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
from pydantic import Field


class ClockResource(dg.ConfigurableResource):
    """What time it is in the shop (naive shop-local)."""

    frozen_at: str | None = Field(
        default=None,
        description="Act as if the shop's clock read this (ISO, shop-local, e.g. 2025-06-16T10:00)."
        " Empty: the real clock. For tests, demos and rehearsals only.",
    )
    timezone: str = "Asia/Seoul"

    def now(self) -> datetime:
        if self.frozen_at:
            return datetime.fromisoformat(self.frozen_at).replace(tzinfo=None)
        return datetime.now(ZoneInfo(self.timezone)).replace(tzinfo=None, microsecond=0)
