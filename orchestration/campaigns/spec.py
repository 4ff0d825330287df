"""A campaign file, validated: a mistake names the file and the field."""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from channels.models import Channel, Purpose
from orchestration.settings import PROJECT_ROOT

CAMPAIGNS_DIR = PROJECT_ROOT / "campaigns"


class Template(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: str | None = None
    body: str


class CampaignSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{2,40}$")
    name: str
    owner: str
    purpose: Purpose
    audience: str = Field(description="the dbt model that lists who is eligible on each day")
    cycle_column: str | None = Field(
        default=None, description="audience column that defines one cycle: one message per customer per cycle"
    )
    channels: list[Channel] = Field(
        min_length=1, description="in order of preference; the first reachable wins"
    )
    templates: dict[Channel, Template]
    send_time: time = time(10, 0)

    @field_validator("audience")
    @classmethod
    def _audience_is_a_model_name(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", value):
            raise ValueError("must be a dbt model name")
        return value

    def model_post_init(self, _context: object) -> None:
        missing = [str(c) for c in self.channels if c not in self.templates]
        if missing:
            raise ValueError(f"channels {missing} have no template")


class CampaignFileError(ValueError):
    """A campaign file that cannot be used; the message names the file and the field."""


def load_campaign(path: Path) -> CampaignSpec:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return CampaignSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}" for e in exc.errors()
        )
        raise CampaignFileError(f"{path.name}: {problems}") from None
    except (yaml.YAMLError, ValueError) as exc:
        raise CampaignFileError(f"{path.name}: {exc}") from None


def load_campaigns(directory: Path = CAMPAIGNS_DIR) -> list[CampaignSpec]:
    """Every campaign file, sorted by id; ids must be unique."""
    specs = [load_campaign(p) for p in sorted(directory.glob("*.yaml"))]
    ids = [s.id for s in specs]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise CampaignFileError(f"campaign ids used twice: {duplicates}")
    return sorted(specs, key=lambda s: s.id)
