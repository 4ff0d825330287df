"""What a marketer sees on the planning asset in Dagster: counts without SQL, previews without personal data."""

from __future__ import annotations

import pandas as pd

from orchestration.defs.campaigns.plan import masked_preview, plan_metadata
from tests.campaigns.conftest import elig, listing, run, spec, world


def test_previews_mask_names_addresses_and_tokens() -> None:
    text = "김민지님, 주문 확인은 010-1234-5678 또는 minji.kim@naver.com 으로.\n토큰 abcdefghijklmnopqrstuvwxyz0123"
    preview = masked_preview(text, "김민지")
    assert "김민지" not in preview and "김*지" in preview
    assert "010-****-5678" in preview and "m********@naver.com" in preview
    assert "abcdefghijklmnopqrstuvwxyz" not in preview
    assert masked_preview("박서준님 반가워요", None).startswith("박*준님")


def test_metadata_counts_by_channel_and_reason() -> None:
    promo = spec("promo", channels=["email", "sms"])
    rows = listing(promo, "c1") + listing(promo, "c2") + listing(promo, "c3")
    model = [elig("c2", channel, reason="consent_withdrawn", at="2025-06-01") for channel in ("email", "sms")]
    result = run(rows, world(["c1", "c2", "c3"], eligibility=model), [promo])
    meta = plan_metadata(result, pd.Series({"c1": "김민지", "c3": "이서연"}), "2025-06-15", "2025-06-15")
    assert meta["audience_size"] == 3 and meta["scheduled"] == 2
    assert meta["by_channel"].data == {"email": 2}
    assert meta["by_exclusion_reason"].data == {"no_consent": 1}
    preview = meta["preview"].md_str
    assert "김민지" not in preview and "@example.com" in preview and "c1@" not in preview
