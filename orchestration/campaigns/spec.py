"""A campaign file, validated: a mistake names the file and the field.

One reviewed YAML file per campaign in /campaigns (files starting with `_` are shared settings, not
campaigns). The model is strict (unknown keys are errors) so a typo cannot silently turn a rule off.
"""

from __future__ import annotations

import os
import re
from datetime import time
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from jinja2 import TemplateSyntaxError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from channels.models import Channel, Purpose
from orchestration.campaigns.render import compile_template
from orchestration.settings import PROJECT_ROOT

CAMPAIGNS_DIR = PROJECT_ROOT / "campaigns"

# Channels whose messages carry a title shown before the body.
TITLED_CHANNELS = frozenset({Channel.EMAIL, Channel.APP_PUSH, Channel.WEB_PUSH})
# The channels a campaign may plan; webhooks are an integration, not a customer channel.
CUSTOMER_CHANNELS = frozenset({Channel.EMAIL, Channel.SMS, Channel.KAKAO, Channel.APP_PUSH, Channel.WEB_PUSH})


class NightRule(StrEnum):
    """What happens to an ad scheduled 21:00-08:00 for someone without night consent."""

    DEFER = "defer"  # to 08:00 the next morning
    SKIP = "skip"  # not sent at all (recorded as an exclusion)


class ConversionGoal(StrEnum):
    PURCHASE = "purchase"
    SIGN_UP = "sign_up"
    REFERRAL = "referral"  # a referred friend signs up
    NONE = "none"  # informational: nothing to convert


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _time_in_quotes(value: Any) -> Any:
    if isinstance(value, int):
        raise ValueError('write times in quotes ("10:00"): YAML reads 10:00 as a number of minutes')
    return value


class Schedule(_Strict):
    """Daily at a shop-local time, or a delay after an event the audience model timestamps."""

    daily_at: time | None = None
    after_event: str | None = Field(default=None, description="audience column holding the event time")
    delay_minutes: int = Field(default=0, ge=0, le=7 * 24 * 60)

    _quotes = field_validator("daily_at", mode="before")(_time_in_quotes)

    @model_validator(mode="after")
    def _one_kind(self) -> Schedule:
        if (self.daily_at is None) == (self.after_event is None):
            raise ValueError("give exactly one of daily_at (a shop-local time) or after_event (an audience column)")
        if self.daily_at is not None and self.delay_minutes:
            raise ValueError("delay_minutes only applies to after_event")
        return self


class Template(_Strict):
    """One channel's copy. Kakao alimtalk also names its approved template and the `#{var}` values."""

    subject: str | None = Field(default=None, description="email subject, push title, LMS title")
    body: str
    link: str | None = Field(default=None, description="push: where a tap leads")
    template_code: str | None = Field(default=None, max_length=20, description="alimtalk: approved template")
    variables: dict[str, str] | None = Field(default=None, description="alimtalk: #{key} -> Jinja expression")

    @model_validator(mode="after")
    def _templates_compile(self) -> Template:
        fields = {"subject": self.subject, "body": self.body, "link": self.link}
        fields |= {f"variables.{k}": v for k, v in (self.variables or {}).items()}
        for name, source in fields.items():
            if source is None:
                continue
            try:
                compile_template(source)
            except TemplateSyntaxError as exc:
                raise ValueError(f"{name}: template syntax error on line {exc.lineno}: {exc.message}") from None
        return self


class Coupon(_Strict):
    """A personal single-use code per customer and cycle: PREFIX-XXXXXX."""

    prefix: str = Field(pattern=r"^[A-Z][A-Z0-9]{1,11}$")
    benefit: str = Field(min_length=1, description='what it gives, in the copy\'s words ("10% 할인")')
    valid_days: int = Field(ge=1, le=90)


class Conversion(_Strict):
    goal: ConversionGoal
    window_days: int = Field(default=7, ge=1, le=90)


class GuardOverride(_Strict):
    """Per-campaign overrides of the audience guard (see campaigns/_policy.yaml)."""

    factor: float | None = Field(default=None, gt=1)
    min_count: int | None = Field(default=None, ge=0)
    max_share: float | None = Field(default=None, gt=0, le=1)


class CampaignSpec(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{2,40}$")
    name: str
    owner: str
    purpose: Purpose
    description: str = ""
    audience: str = Field(description="the dbt model that lists who is eligible on each day")
    cycle_column: str | None = Field(
        default=None,
        description="audience column that defines one cycle: one message per customer per cycle (default: per day)",
    )
    advertised_category_column: str | None = Field(
        default=None, description="audience column naming the goods advertised (existing-customer exception)"
    )
    skip_channels_column: str | None = Field(
        default=None,
        description="audience column listing channels (comma-separated) this customer's message must not use:"
        " a notice that failed there goes on the next channel of the plan",
    )
    schedule: Schedule
    night: NightRule = NightRule.DEFER
    priority: int = Field(ge=1, le=100, description="higher wins a collision; ties go to the lower campaign id")
    frequency_cap_class: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    holdout_share: float = Field(default=0.0, ge=0.0, le=0.5)
    legally_required: bool = Field(default=False, description="an information the law requires us to send")
    conversion: Conversion | None = None
    coupon: Coupon | None = None
    channels: list[Channel] = Field(min_length=1, description="in order of preference; the next one is the fallback")
    templates: dict[Channel, Template]
    guard: GuardOverride = GuardOverride()

    @field_validator("audience", "cycle_column", "advertised_category_column", "skip_channels_column")
    @classmethod
    def _is_an_identifier(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z][a-z0-9_]*", value):
            raise ValueError("must be a lower-case dbt model or column name")
        return value

    @field_validator("channels")
    @classmethod
    def _channels_once_each(cls, value: list[Channel]) -> list[Channel]:
        for i, channel in enumerate(value):
            if channel not in CUSTOMER_CHANNELS:
                raise ValueError(f"[{i}] {channel} is not a customer channel ({sorted(CUSTOMER_CHANNELS)})")
        if len(set(value)) != len(value):
            raise ValueError("each channel may appear once")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CampaignSpec:
        if self.purpose is Purpose.AD and Channel.KAKAO in self.channels:
            raise ValueError(
                f"channels[{self.channels.index(Channel.KAKAO)}]: kakao (alimtalk) carries informational"
                " messages only; an ad campaign cannot plan it"
            )
        if self.legally_required and self.purpose is not Purpose.INFO:
            raise ValueError("legally_required: only an informational campaign can be a legal obligation")
        if self.legally_required and self.holdout_share:
            raise ValueError("holdout_share: a legally required message cannot have a holdout")
        for channel in self.channels:
            if channel not in self.templates:
                raise ValueError(f"templates.{channel}: channel {channel} is planned but has no template")
        for channel, template in self.templates.items():
            where = f"templates.{channel}"
            if channel not in self.channels:
                raise ValueError(f"{where}: template for a channel the plan does not use")
            if channel in TITLED_CHANNELS and not template.subject:
                raise ValueError(f"{where}.subject: {channel} needs a subject (title)")
            if channel is Channel.KAKAO:
                if not template.template_code:
                    raise ValueError(f"{where}.template_code: alimtalk needs its approved template code")
                if template.variables is None:
                    raise ValueError(f"{where}.variables: alimtalk needs the template's #{{key}} values")
            elif template.template_code or template.variables is not None:
                raise ValueError(f"{where}: template_code/variables belong to kakao alimtalk only")
        return self


class CampaignFileError(ValueError):
    """A campaign file that cannot be used; the message names the file and the field."""


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        location = ".".join(str(p) for p in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{location}: {message}" if location else message)
    return "; ".join(problems)


def load_campaign(path: Path) -> CampaignSpec:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise CampaignFileError(f"{path.name}: a campaign file is a mapping of fields")
        spec = CampaignSpec.model_validate(data)
    except ValidationError as exc:
        raise CampaignFileError(f"{path.name}: {_describe(exc)}") from None
    except yaml.YAMLError as exc:
        raise CampaignFileError(f"{path.name}: not valid YAML: {exc}") from None
    if spec.id != path.stem:
        raise CampaignFileError(f"{path.name}: id: {spec.id!r} must match the file name ({path.stem!r})")
    return spec


def campaigns_dir() -> Path:
    """DANGOL_CAMPAIGNS_DIR overrides the repository's folder (tests, a shop's own campaigns)."""
    return Path(os.environ.get("DANGOL_CAMPAIGNS_DIR", CAMPAIGNS_DIR))


def campaign_files(directory: Path | None = None) -> list[Path]:
    return sorted(p for p in (directory or campaigns_dir()).glob("*.yaml") if not p.name.startswith("_"))


def load_campaigns(directory: Path | None = None) -> list[CampaignSpec]:
    """Every campaign file, sorted by id; ids are the file names, so they are unique."""
    return sorted((load_campaign(p) for p in campaign_files(directory)), key=lambda s: s.id)
