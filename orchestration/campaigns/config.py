"""The send policy's settings: one reviewed file, campaigns/_policy.yaml, shared by every campaign.

A few values can be overridden from the environment for a shop or a test (`DANGOL_POLICY_FILE`,
`DANGOL_CONTROL_SHARE`).
"""

from __future__ import annotations

import os
from datetime import time
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from channels.models import Channel, Purpose
from orchestration.campaigns.compose import MessageType
from orchestration.campaigns.spec import CampaignFileError, CampaignSpec, _describe, campaigns_dir

# Informational campaigns count against no cap; an ad campaign may not use it.
UNCAPPED_CLASS = "service"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExistingCustomerException(_Strict):
    """정보통신망법 제50조①1 / 시행령 제61조①: an ad without consent to someone whose contact we got
    through a transaction, for the same kind of goods, within 6 months of that transaction.
    Off by default: consent is the safer rule, and an opt-out still always wins."""

    enabled: bool = False
    months: int = Field(default=6, ge=1, le=6)


class NightSettings(_Strict):
    """정보통신망법 제50조③: ads 21:00-08:00 need separate night consent. The decree exempts one medium,
    email according to secondary sources (KCC/KISA 2014): configurable until confirmed on law.go.kr."""

    start: time = time(21, 0)
    end: time = time(8, 0)
    exempt_channels: frozenset[Channel] = frozenset({Channel.EMAIL})

    @field_validator("start", "end", mode="before")
    @classmethod
    def _quoted(cls, value: object) -> object:
        if isinstance(value, int):
            raise ValueError('write times in quotes ("21:00")')
        return value


class FrequencyCap(_Strict):
    """At most `max` ads of the listed classes per customer in any `window_days` consecutive days."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    classes: frozenset[str] = Field(min_length=1)
    window_days: int = Field(ge=1, le=365)
    max: int = Field(ge=0)


class ControlGroup(_Strict):
    """A stable, hash-based share of customers who get no advertising at all (the baseline for lift)."""

    share: float = Field(default=0.05, ge=0, le=0.5)
    salt: str = "dangol-control-v1"


class GuardSettings(_Strict):
    """A send list far above its recent size is held until a person approves it."""

    lookback_days: int = Field(default=7, ge=1)
    min_history_days: int = Field(default=3, ge=1)
    factor: float = Field(default=3.0, gt=1)
    min_count: int = Field(default=50, ge=0)
    max_share: float = Field(default=0.3, gt=0, le=1)


class DeliverySettings(_Strict):
    """When a planned send may still be handed to a provider. A send more than `catch_up_hours` past its
    time is not delivered but recorded as expired: a backfill or a late run never sends stale messages
    (a welcome coupon days late). Delivering older sends needs a run's explicit, typed opt-in."""

    catch_up_hours: float = Field(default=4.0, gt=0, le=72)


class PolicyConfig(_Strict):
    existing_customer_exception: ExistingCustomerException = ExistingCustomerException()
    night: NightSettings = NightSettings()
    frequency_caps: tuple[FrequencyCap, ...] = (
        FrequencyCap(name="ads_per_day", classes=frozenset({"promotional", "coupon"}), window_days=1, max=1),
        FrequencyCap(name="ads_per_week", classes=frozenset({"promotional", "coupon"}), window_days=7, max=3),
        FrequencyCap(name="coupons_per_month", classes=frozenset({"coupon"}), window_days=30, max=2),
    )
    control_group: ControlGroup = ControlGroup()
    guard: GuardSettings = GuardSettings()
    delivery: DeliverySettings = DeliverySettings()
    prices_krw: dict[MessageType, float] = Field(
        default_factory=lambda: {
            MessageType.SMS: 12.0,
            MessageType.LMS: 39.0,
            MessageType.ALIMTALK: 10,
            MessageType.EMAIL: 1,
            MessageType.APP_PUSH: 0,
            MessageType.WEB_PUSH: 0,
        }
    )

    @model_validator(mode="after")
    def _every_price(self) -> PolicyConfig:
        missing = sorted(str(t) for t in MessageType if t not in self.prices_krw)
        if missing:
            raise ValueError(f"prices_krw: no price for {missing}")
        return self

    @property
    def cap_classes(self) -> frozenset[str]:
        return frozenset(c for cap in self.frequency_caps for c in cap.classes) | {UNCAPPED_CLASS}

    @property
    def daily_ad_limit(self) -> int:
        """The collision rule's number of slots per customer and day (one ad a day by default)."""
        daily = [cap.max for cap in self.frequency_caps if cap.window_days == 1]
        return min(daily) if daily else 1


def policy_file() -> Path:
    return Path(os.environ.get("DANGOL_POLICY_FILE", campaigns_dir() / "_policy.yaml"))


def load_policy(path: Path | None = None) -> PolicyConfig:
    path = path or policy_file()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    try:
        config = PolicyConfig.model_validate(data or {})
    except ValidationError as exc:
        raise CampaignFileError(f"{path.name}: {_describe(exc)}") from None
    if "DANGOL_CONTROL_SHARE" in os.environ:
        share = float(os.environ["DANGOL_CONTROL_SHARE"])
        config = config.model_copy(update={"control_group": config.control_group.model_copy(update={"share": share})})
    return config


def check_campaigns(specs: list[CampaignSpec], policy: PolicyConfig) -> None:
    """What a campaign file cannot know alone: its cap class must exist, and ads are always capped."""
    for spec in specs:
        where = f"{spec.id}.yaml: frequency_cap_class"
        if spec.frequency_cap_class not in policy.cap_classes:
            raise CampaignFileError(f"{where}: {spec.frequency_cap_class!r} is not one of {sorted(policy.cap_classes)}")
        if spec.purpose is Purpose.AD and spec.frequency_cap_class == UNCAPPED_CLASS:
            raise CampaignFileError(f"{where}: an ad campaign must count against the frequency caps")
