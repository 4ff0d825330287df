"""The 02:00 nightly run must not hand an ad to SMS/push/Kakao providers in the night window."""

from datetime import datetime

import pandas as pd
import pytest

from orchestration.campaigns.config import PolicyConfig
from orchestration.defs.deliver.deliveries import night_deferred

PLANNED = pd.DataFrame(
    [
        ("ad", "sms"),
        ("ad", "app_push"),
        ("ad", "email"),  # exempt from the night rule by default
        ("info", "kakao"),  # informational messages are not advertising
    ],
    columns=["purpose", "channel"],
)


@pytest.mark.parametrize(
    ("clock", "deferred"),
    [
        ("02:00", [True, True, False, False]),
        ("20:59", [False, False, False, False]),
        ("21:00", [True, True, False, False]),
        ("07:59", [True, True, False, False]),
        ("08:00", [False, False, False, False]),
    ],
)
def test_ads_on_restricted_channels_wait_for_the_morning(clock: str, deferred: list[bool]) -> None:
    now = datetime.fromisoformat(f"2024-02-29 {clock}")
    assert night_deferred(PLANNED, now, PolicyConfig()).tolist() == deferred
