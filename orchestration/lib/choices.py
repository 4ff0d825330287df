"""Closed choices a marketer picks from in the launchpad, built from the campaign files."""

from __future__ import annotations

from enum import Enum, StrEnum

from orchestration.campaigns.spec import load_campaigns

# One member per campaign file, named by its id: the launchpad offers them as a drop-down, so a typo in a
# campaign id is refused before the run starts. Adding a campaign file adds a member at the next load.
CampaignChoice = Enum("CampaignChoice", {s.id: s.id for s in load_campaigns()}, type=str)  # type: ignore[misc]


class Answer(StrEnum):
    """What a person answers to a send list held by the audience guard."""

    APPROVE = "approved"
    REJECT = "rejected"
