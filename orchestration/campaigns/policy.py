"""The send policy, applied in one place, to all campaigns of a window together.

Order (a candidate's recorded reason is the first step in this order that excludes it):

1. consent      the channel has a valid address and the right consent for the purpose at the end of the day
                (ad consent for ads; the existing-customer exception only if switched on and valid)
2. suppression  the address is not on the ledger's suppression list (hard bounce, dead token, opt-out)
                Steps 1-2 are read, not decided, here: dbt's int_customer_eligibility_daily is their one
                place (orchestration/campaigns/eligibility.py); the policy explains them.
   render       the copy can go on that channel (CP949, lengths); otherwise the next channel is tried
3. night        an ad scheduled 21:00-08:00 without night consent is deferred to 08:00 or skipped
4. frequency caps across all channels, counting what earlier days already planned
5. collisions    one ad per customer per day: the higher priority wins; ties go to the lower campaign id
6. control group (no advertising at all) and the campaign's holdout, both stable hashes of the customer
7. already sent  nothing twice: a key planned on another day, or sent according to the ledger
8. audience guard a campaign-day far above its recent size is held until a person approves it

Steps 1-3 pick the channel (the plan's first channel that passes them). Steps 6-7 are evaluated before
caps and collisions compete, so a held-out or already-sent message never takes a customer's daily slot
from another campaign; the guard is decided on the would-be list before the competition for the same
reason (a broken segment must not crowd out the others). Days are planned in order, each seeing what
the previous ones planned.

Pure functions over DataFrames: everything the policy needs arrives in `PolicyInputs`.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

import numpy as np
import pandas as pd

from channels.masking import mask_address
from channels.models import Purpose
from orchestration.campaigns.config import UNCAPPED_CLASS, PolicyConfig
from orchestration.campaigns.eligibility import ELIGIBILITY_COLUMNS, message_purpose
from orchestration.campaigns.spec import CampaignSpec, NightRule


class Step(StrEnum):
    CONSENT = "consent"
    SUPPRESSION = "suppression"
    RENDER = "render"
    NIGHT = "night"
    FREQUENCY_CAP = "frequency_cap"
    COLLISION = "collision"
    CONTROL_GROUP = "control_group"
    HOLDOUT = "holdout"
    ALREADY_SENT = "already_sent"
    AUDIENCE_GUARD = "audience_guard"
    PLANNED = "planned"


STEP_ORDER: tuple[Step, ...] = tuple(Step)


class Reason(StrEnum):
    NO_CONTACT = "no_contact"
    NO_CONSENT = "no_consent"
    SUPPRESSED = "suppressed"
    UNRENDERABLE = "unrenderable"
    NIGHT_SKIPPED = "night_skipped"
    FREQUENCY_CAP = "frequency_cap"
    COLLISION = "collision"
    CONTROL_GROUP = "control_group"
    HOLDOUT = "holdout"
    ALREADY_SENT = "already_sent"
    HELD_FOR_APPROVAL = "held_for_approval"
    GUARD_REJECTED = "guard_rejected"


# How far a channel got through steps 1-2 and rendering, for picking a candidate's reason.
CHANNEL_REASON_ORDER: tuple[Reason, ...] = (
    Reason.NO_CONTACT,
    Reason.NO_CONSENT,
    Reason.SUPPRESSED,
    Reason.UNRENDERABLE,
)


class Decision(StrEnum):
    PLANNED = "planned"
    HELD = "held_for_approval"
    EXCLUDED = "excluded"


class SendState(StrEnum):
    """A row of fct_planned_sends: delivery sends `scheduled` rows only."""

    SCHEDULED = "scheduled"
    HELD = "held_for_approval"


class GuardState(StrEnum):
    OK = "ok"
    NO_HISTORY = "no_history"  # too few days to compare with; only the share rule applies
    HELD = "held"
    APPROVED = "approved"
    REJECTED = "rejected"


CANDIDATE_COLUMNS = [
    "campaign_id",
    "step",
    "customer_id",
    "as_of_date",
    "cycle",
    "send_key",
    "base_scheduled_at",
    "advertised_category",
]
CHANNEL_COLUMNS = [
    "channel",
    "channel_rank",
    "message_type",
    "subject",
    "body",
    "data",
    "content_bytes",
    "render_error",
    "render_warnings",
]
DECISION_COLUMNS = [
    "campaign_id",
    "step",
    "customer_id",
    "as_of_date",
    "cycle",
    "send_key",
    "purpose",
    "decision",
    "policy_step",
    "reason",
    "detail",
    "channel",
    "scheduled_at",
    "channels_considered",
]
PLANNED_COLUMNS = [
    "send_key",
    "campaign_id",
    "step",
    "customer_id",
    "as_of_date",
    "cycle",
    "channel",
    "message_type",
    "purpose",
    "priority",
    "cap_class",
    "address",
    "subject",
    "body",
    "data",
    "content_bytes",
    "render_warnings",
    "scheduled_at",
    "cost_krw",
    "state",
]
CAMPAIGN_DAY_COLUMNS = [
    "campaign_id",
    "as_of_date",
    "audience_size",
    "eligible",
    "baseline",
    "guard_limit",
    "guard_state",
    "planned",
    "held",
    "excluded",
]
HISTORY_COLUMNS = ["send_key", "campaign_id", "customer_id", "as_of_date", "scheduled_at", "purpose", "cap_class"]


def _frame(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})


@dataclass(frozen=True)
class PolicyInputs:
    """The state of the world the policy decides against (all timestamps naive shop-local)."""

    contacts: pd.DataFrame  # customer_id, customer_name (for the plan's masked previews)
    # Rows of int_customer_eligibility_daily (ELIGIBILITY_COLUMNS) for the window's candidates.
    eligibility: pd.DataFrame
    history: pd.DataFrame  # HISTORY_COLUMNS: scheduled sends planned for days outside the window
    # Keys the ledger has sent (or may have) -> the day the window's previous plan had them on, if any:
    # a rerun of that day plans its own message again (delivery skips it), any other day may not.
    sent_keys: Mapping[str, date | None] = field(default_factory=dict)
    guard_history: pd.DataFrame = field(
        default_factory=lambda: _frame(["campaign_id", "as_of_date", "eligible", "guard_state"])
    )
    approvals: pd.DataFrame = field(default_factory=lambda: _frame(["campaign_id", "as_of_date", "decision"]))
    customers_known: Mapping[date, int] = field(default_factory=dict)

    @staticmethod
    def empty() -> PolicyInputs:
        return PolicyInputs(
            contacts=_frame(["customer_id", "customer_name"]),
            eligibility=_frame(ELIGIBILITY_COLUMNS),
            history=_frame(HISTORY_COLUMNS),
        )


@dataclass(frozen=True)
class PolicyResult:
    decisions: pd.DataFrame  # one row per candidate: DECISION_COLUMNS
    planned: pd.DataFrame  # one row per planned or held send: PLANNED_COLUMNS
    campaign_days: pd.DataFrame  # one row per campaign and day: CAMPAIGN_DAY_COLUMNS


# -- small pure helpers --------------------------------------------------------------------------------


def unit_hash(text: str) -> float:
    """A stable number in [0, 1) from text: the same customer lands in the same group on every run."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64


def in_control_group(customer_id: str, config: PolicyConfig) -> bool:
    return unit_hash(f"{config.control_group.salt}|{customer_id}") < config.control_group.share


def in_holdout(campaign_id: str, customer_id: str, share: float) -> bool:
    return share > 0 and unit_hash(f"holdout|{campaign_id}|{customer_id}") < share


def is_night(moment: datetime, config: PolicyConfig) -> bool:
    """[21:00, 08:00): 20:59 is day, 21:00 is night, 07:59 is night, 08:00 is day."""
    start, end = config.night.start, config.night.end
    clock = moment.time()
    if start > end:
        return clock >= start or clock < end
    return start <= clock < end


def next_morning(moment: datetime, config: PolicyConfig) -> datetime:
    """The first end-of-night (08:00) at or after `moment`."""
    same_day = datetime.combine(moment.date(), config.night.end)
    return same_day if moment <= same_day else same_day + timedelta(days=1)


def _fmt(moment: object) -> str:
    if moment is None or (not isinstance(moment, str) and pd.isna(moment)):
        return "-"
    return pd.Timestamp(moment).strftime("%Y-%m-%d %H:%M")


# -- consent -------------------------------------------------------------------------------------------


_NO_ADDRESS = {"no_address": "no address", "invalid_address": "invalid address", None: "no address"}


def _consent_detail(label: str, state: object, recorded_at: object, source: object, scope: object = None) -> str:
    """The model's consent state in words: "ad consent given 2025-01-01 10:00 via signup_form"."""
    if state not in ("granted", "withdrawn"):
        return f"no {label} on record"
    via = f" via {source}" if isinstance(source, str) and source else ""
    shared = " on another customer record with this address" if scope == "address" else ""
    verb = "given" if state == "granted" else "withdrawn"
    return f"{label} {verb} {_fmt(recorded_at)}{via}{shared}"


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _first(cases: list[pd.Series], choices: list[object], default: object) -> list[object]:
    """Per row, the choice of the first case that holds (a choice is one value or a column), else `default`."""
    n = len(cases[0])

    def column(value: object) -> list[object]:
        return list(value) if isinstance(value, (pd.Series, list, np.ndarray)) else [value] * n

    out = column(default)
    for case, choice in zip(reversed(cases), reversed(choices), strict=True):
        values = column(choice)
        for i in np.flatnonzero(case.to_numpy(dtype=bool)):
            out[i] = values[i]
    return out


def _fmt_all(moments: pd.Series) -> pd.Series:
    """`_fmt` over a column: "2025-01-01 10:00", or "-" where there is no moment."""
    at = pd.to_datetime(moments.astype(object).where(moments.notna(), None))
    return at.dt.strftime("%Y-%m-%d %H:%M").astype(object).where(at.notna(), "-")


def _consent_details(
    label: pd.Series, state: pd.Series, recorded_at: pd.Series, source: pd.Series, scope: pd.Series
) -> pd.Series:
    """`_consent_detail` over columns, for every (candidate, channel) row at once."""
    via = source.map(lambda s: f" via {s}" if _is_text(s) else "")
    shared = (scope == "address").map({True: " on another customer record with this address", False: ""})
    verb = (state == "granted").map({True: "given", False: "withdrawn"})
    said = label + " " + verb + " " + _fmt_all(recorded_at) + via + shared
    return said.where(state.isin(["granted", "withdrawn"]), "no " + label + " on record")


def channel_verdicts(
    rows: pd.DataFrame, inputs: PolicyInputs, specs: Mapping[str, CampaignSpec], config: PolicyConfig
) -> pd.DataFrame:
    """Per (candidate, channel): passes steps 1, 2 and render, or the first of them it fails and why.

    Steps 1 and 2 are the eligibility model's answer for the candidate's day, customer, channel and
    purpose; a row the model does not have is no contact.
    """
    rows = rows.reset_index(drop=True)
    rows["eligibility_purpose"] = rows["campaign_id"].map(lambda c: message_purpose(specs[c]))
    model = inputs.eligibility.rename(columns={"purpose": "eligibility_purpose"})
    rows = rows.merge(model, on=["as_of_date", "customer_id", "channel", "eligibility_purpose"], how="left")
    label = rows["eligibility_purpose"].map(
        {"ad": "ad consent", "info": "info consent", "legal_notice": "info consent"}
    )

    known = rows["is_eligible"].notna()
    eligible = known & rows["is_eligible"].map(lambda v: False if pd.isna(v) else bool(v)).astype(bool)
    reason = pd.Series(
        [r if isinstance(r, str) and k else None for r, k in zip(rows["ineligible_reason"], known, strict=True)],
        index=rows.index,
        dtype=object,
    )
    exception_ok = pd.Series(
        [
            isinstance(cats, str) and _is_text(category) and category in cats.split("|")
            for cats, category in zip(rows["exception_categories"], rows["advertised_category"], strict=True)
        ],
        index=rows.index,
        dtype=bool,
    )
    ok = eligible | exception_ok  # may_send: the model's answer, or the existing-customer exception
    by_exception = ~eligible & exception_ok
    consent_text = _consent_details(
        label, rows["consent_state"], rows["consent_recorded_at"], rows["consent_source"], rows["consent_scope"]
    ).where(~by_exception, "no ad consent, but the existing-customer exception applies (제61조①)")
    no_contact = ~ok & (reason.isin(["no_address", "invalid_address"]) | reason.isna() | ~known)
    suppressed = ~ok & ~no_contact & (reason == "suppressed")
    no_consent = ~ok & ~no_contact & ~suppressed
    unrenderable = ok & rows["render_error"].map(_is_text).astype(bool)
    suppression = [
        f"address suppressed ({kind}: {why})"
        for kind, why in zip(rows["suppression_kind"], rows["suppression_reason"], strict=True)
    ]
    no_address = [_NO_ADDRESS.get(r, "no address") for r in reason]
    cases = [no_contact, suppressed, no_consent, unrenderable]
    rows["verdict_step"] = _first(cases, [Step.CONSENT, Step.SUPPRESSION, Step.CONSENT, Step.RENDER], None)
    rows["verdict_reason"] = _first(
        cases, [Reason.NO_CONTACT, Reason.SUPPRESSED, Reason.NO_CONSENT, Reason.UNRENDERABLE], None
    )
    said = _first(cases, [no_address, suppression, consent_text, rows["render_error"]], consent_text)
    rows["verdict_detail"] = [f"{c}: {d}" for c, d in zip(rows["channel"], said, strict=True)]
    return rows


def pick_channels(verdicts: pd.DataFrame) -> pd.DataFrame:
    """One row per candidate: the first channel of the plan that passed, else the furthest-got failure."""
    key = ["campaign_id", "customer_id", "as_of_date"]
    ordered = verdicts.sort_values([*key, "channel_rank"])
    # Every channel's verdict in plan order, per candidate: one pass over the sorted rows.
    joined: dict[tuple[object, ...], list[str]] = {}
    for *candidate, detail in zip(*(ordered[c] for c in key), ordered["verdict_detail"], strict=True):
        joined.setdefault(tuple(candidate), []).append(detail)
    considered = pd.DataFrame(
        [(*candidate, "; ".join(details)) for candidate, details in joined.items()],
        columns=[*key, "channels_considered"],
    )
    passing = ordered[ordered["verdict_step"].isna()].groupby(key, sort=False).head(1)
    failing = ordered[~ordered.set_index(key).index.isin(passing.set_index(key).index)].copy()
    failing["_rank"] = failing["verdict_reason"].map(CHANNEL_REASON_ORDER.index)
    # The candidate's reason: the failure of the channel that got furthest (e.g. suppressed beats no consent,
    # no consent beats no address).
    worst = failing.sort_values([*key, "_rank", "channel_rank"]).groupby(key, sort=False).tail(1)
    picked = pd.concat([passing, worst.drop(columns="_rank")], ignore_index=True)
    picked = picked.merge(considered, on=key)
    picked["excluded_step"] = picked["verdict_step"]
    picked["excluded_reason"] = picked["verdict_reason"]
    picked["excluded_detail"] = picked["channels_considered"].where(picked["verdict_step"].notna(), None)
    picked.loc[picked["verdict_step"].notna(), ["channel", "address"]] = None
    return picked


# -- step 3: night --------------------------------------------------------------------------------------


def apply_night_rule(
    cands: pd.DataFrame, inputs: PolicyInputs, specs: Mapping[str, CampaignSpec], config: PolicyConfig
) -> pd.DataFrame:
    """Ads scheduled at night without night consent on their channel: deferred to 08:00 or skipped."""
    cands = cands.copy()
    cands["scheduled_at"] = cands["base_scheduled_at"]
    cands["night_note"] = None
    alive = cands["excluded_step"].isna()
    is_ad = cands["campaign_id"].map(lambda c: specs[c].purpose is Purpose.AD)
    exempt = cands["channel"].isin([str(c) for c in config.night.exempt_channels])
    at_night = cands["base_scheduled_at"].map(lambda t: is_night(pd.Timestamp(t).to_pydatetime(), config))
    todo = cands[alive & is_ad & ~exempt & at_night]
    if todo.empty:
        return cands
    notes: dict[object, str] = {}
    skipped: dict[object, str] = {}
    deferred: dict[object, pd.Timestamp] = {}
    columns = ["night_consent_recorded_at", "has_night_consent", "campaign_id", "base_scheduled_at", "channel"]
    for idx, night_at, allowed, campaign_id, base, channel in zip(todo.index, *(todo[c] for c in columns), strict=True):
        if bool(allowed):
            notes[idx] = f"night send allowed: night ad consent given {_fmt(night_at)}"
            continue
        planned_at = pd.Timestamp(base).to_pydatetime()
        night_state = "none" if night_at is None or pd.isna(night_at) else "withdrawn"
        why = f"scheduled {_fmt(planned_at)} is in the night window and {channel} has " + (
            _consent_detail("night ad consent", night_state, night_at, None)
        )
        if specs[campaign_id].night is NightRule.SKIP:
            skipped[idx] = f"{why}; the campaign skips night sends"
        else:
            morning = next_morning(planned_at, config)
            deferred[idx] = pd.Timestamp(morning)
            notes[idx] = f"deferred to {_fmt(morning)}: {why}"
    if skipped:
        where = list(skipped)
        cands.loc[where, "excluded_step"] = Step.NIGHT
        cands.loc[where, "excluded_reason"] = Reason.NIGHT_SKIPPED
        cands.loc[where, "excluded_detail"] = list(skipped.values())
    if deferred:
        cands.loc[list(deferred), "scheduled_at"] = list(deferred.values())
    if notes:
        cands.loc[list(notes), "night_note"] = list(notes.values())
    return cands


# -- steps 4 and 5: caps and collisions -----------------------------------------------------------------


@dataclass
class AdCalendar:
    """Each customer's planned ads by scheduled day and cap class, growing as days are planned."""

    days: dict[str, list[tuple[date, str, str]]] = field(default_factory=lambda: defaultdict(list))

    def add(self, customer_id: str, day: date, cap_class: str, campaign_id: str) -> None:
        self.days[customer_id].append((day, cap_class, campaign_id))

    def worst_window(self, customer_id: str, day: date, classes: frozenset[str], window: int) -> int:
        """The fullest `window`-day span containing `day`: what one more ad on `day` would be measured by."""
        dates = [d for d, c, _ in self.days.get(customer_id, ()) if c in classes]
        if not dates:
            return 0
        return max(
            sum(1 for d in dates if start <= d <= start + timedelta(days=window - 1))
            for start in (day - timedelta(days=k) for k in range(window))
        )


def cap_breach(calendar: AdCalendar, customer_id: str, day: date, cap_class: str, config: PolicyConfig) -> str | None:
    """The first frequency cap one more ad of `cap_class` on `day` would break, described; else None."""
    for cap in config.frequency_caps:
        if cap_class not in cap.classes:
            continue
        count = calendar.worst_window(customer_id, day, cap.classes, cap.window_days)
        if count >= cap.max:
            return f"{cap.name}: {count} ad(s) already planned within {cap.window_days} day(s), max {cap.max}"
    return None


def caps_and_collisions(
    cands: pd.DataFrame, calendar: AdCalendar, specs: Mapping[str, CampaignSpec], config: PolicyConfig
) -> pd.DataFrame:
    """Steps 4-5 for one as-of day's surviving ads, in priority order; the calendar learns the winners.

    Against what earlier days and runs planned, a breach is a frequency cap; against a higher-priority
    ad planned for the same customer and day in this round, it is a collision (the winner is named).
    """
    cands = cands.copy()
    if cands.empty:
        return cands
    cands["_priority"] = cands["campaign_id"].map(lambda c: specs[c].priority)
    cands["_day"] = cands["scheduled_at"].map(lambda t: pd.Timestamp(t).date())
    order = cands.sort_values(
        ["_priority", "campaign_id", "scheduled_at", "send_key"], ascending=[False, True, True, True]
    )
    before = AdCalendar(defaultdict(list, {k: list(v) for k, v in calendar.days.items()}))
    winners: dict[tuple[str, date], list[str]] = defaultdict(list)
    capped: dict[object, str] = {}
    collided: dict[object, str] = {}
    for idx, campaign_id, customer_id, day in zip(
        order.index, order["campaign_id"], order["customer_id"], order["_day"], strict=True
    ):
        spec = specs[campaign_id]
        breach = cap_breach(before, customer_id, day, spec.frequency_cap_class, config)
        if breach:
            capped[idx] = breach
            continue
        breach = cap_breach(calendar, customer_id, day, spec.frequency_cap_class, config)
        if breach:
            won = ", ".join(winners[(customer_id, day)]) or "another ad"
            collided[idx] = (
                f"lost to {won} on {day}: {breach}; this campaign's priority is {spec.priority}"
                " (equal priority goes to the lower campaign id)"
            )
            continue
        calendar.add(customer_id, day, spec.frequency_cap_class, campaign_id)
        winners[(customer_id, day)].append(f"{campaign_id} (priority {spec.priority})")
    for step, reason, details in (
        (Step.FREQUENCY_CAP, Reason.FREQUENCY_CAP, capped),
        (Step.COLLISION, Reason.COLLISION, collided),
    ):
        if details:
            where = list(details)
            cands.loc[where, "excluded_step"] = step
            cands.loc[where, "excluded_reason"] = reason
            cands.loc[where, "excluded_detail"] = pd.Series(details, dtype=object).reindex(where).to_numpy()
    return cands.drop(columns=["_priority", "_day"])


# -- step 8: the audience guard -------------------------------------------------------------------------


def release_hint(campaign_id: str, day: date) -> str:
    """How a person answers a held send list: the one wording, read by the plan, its checks and the CLI."""
    return (
        f"approve or reject it with the job approve_send_list (partition {day}, campaign {campaign_id}),"
        f" or `dangol approve --campaign {campaign_id} --date {day}` (or --reject), then rerun the day"
    )


@dataclass(frozen=True)
class GuardVerdict:
    state: GuardState
    baseline: float | None
    limit: float | None
    detail: str


def audience_guard(
    campaign: CampaignSpec,
    day: date,
    eligible: int,
    history: pd.DataFrame,
    customers_known: int,
    approval: str | None,
    config: PolicyConfig,
) -> GuardVerdict:
    """Hold a send list that jumps far beyond its recent size, or reaches too much of the customer base.

    `eligible` counts the new messages (not already sent); `history` holds earlier days' eligible counts
    of this campaign (held and rejected days excluded); `customers_known` is the customer 360's count of
    customers that day (leads are contacts, not customers).
    """
    g = config.guard
    factor = campaign.guard.factor or g.factor
    min_count = campaign.guard.min_count if campaign.guard.min_count is not None else g.min_count
    max_share = campaign.guard.max_share or g.max_share
    recent = history[(history["as_of_date"] < day) & (history["as_of_date"] >= day - timedelta(days=g.lookback_days))]
    baseline = float(recent["eligible"].median()) if len(recent) >= g.min_history_days else None
    share_limit = max_share * customers_known if customers_known else None
    reasons = []
    if baseline is not None and eligible > max(min_count, factor * baseline):
        reasons.append(f"{eligible} is more than {factor:g} x the median {baseline:g} of the last {len(recent)} days")
    if share_limit is not None and eligible > max(min_count, share_limit):
        reasons.append(f"{eligible} is more than {max_share:.0%} of the {customers_known} customers")
    limit = max(min_count, factor * baseline) if baseline is not None else None
    if not reasons:
        state = GuardState.OK if baseline is not None else GuardState.NO_HISTORY
        return GuardVerdict(state, baseline, limit, f"{eligible} within the guard")
    why = "; ".join(reasons)
    if approval == "approved":
        return GuardVerdict(GuardState.APPROVED, baseline, limit, f"{why}; approved by a person")
    if approval == "rejected":
        return GuardVerdict(GuardState.REJECTED, baseline, limit, f"{why}; rejected by a person")
    return GuardVerdict(GuardState.HELD, baseline, limit, f"{why}: held for approval; {release_hint(campaign.id, day)}")


# -- the whole policy ----------------------------------------------------------------------------------


def plan(
    send_list: pd.DataFrame,
    inputs: PolicyInputs,
    specs: Mapping[str, CampaignSpec],
    config: PolicyConfig,
) -> PolicyResult:
    """Decide every candidate of the window: planned, held for approval, or excluded with its reason."""
    if send_list.empty:
        return PolicyResult(_frame(DECISION_COLUMNS), _frame(PLANNED_COLUMNS), _frame(CAMPAIGN_DAY_COLUMNS))
    verdicts = channel_verdicts(send_list, inputs, specs, config)
    cands = apply_night_rule(pick_channels(verdicts), inputs, specs, config)
    cands["purpose"] = cands["campaign_id"].map(lambda c: str(specs[c].purpose))
    is_ad = cands["purpose"] == Purpose.AD

    # Steps 6 and 7's per-customer facts do not depend on other candidates: evaluate them up front.
    control = is_ad & cands["customer_id"].map(lambda c: in_control_group(c, config))
    holdout = pd.Series(
        [
            in_holdout(c, k, specs[c].holdout_share)
            for c, k in zip(cands["campaign_id"], cands["customer_id"], strict=True)
        ],
        index=cands.index,
    )
    history = inputs.history
    planned_before = dict(zip(history["send_key"], pd.to_datetime(history["as_of_date"]).dt.date, strict=True))

    calendar = AdCalendar()
    for row in history.itertuples(index=False):
        if row.purpose == Purpose.AD and row.cap_class != UNCAPPED_CLASS:
            calendar.add(row.customer_id, pd.Timestamp(row.scheduled_at).date(), row.cap_class, row.campaign_id)
    guard_history = inputs.guard_history
    guard_history = guard_history[~guard_history["guard_state"].isin([GuardState.HELD, GuardState.REJECTED])][
        ["campaign_id", "as_of_date", "eligible"]
    ].copy()
    guard_history["as_of_date"] = pd.to_datetime(guard_history["as_of_date"]).dt.date
    approvals = {
        (r.campaign_id, pd.Timestamp(r.as_of_date).date()): r.decision for r in inputs.approvals.itertuples(index=False)
    }

    sent_index = pd.Index(list(inputs.sent_keys), dtype=object)
    cands["state_note"] = None
    campaign_days = []
    done = []
    for day in sorted(cands["as_of_date"].unique()):
        today = cands[cands["as_of_date"] == day].copy()
        alive = today["excluded_step"].isna()
        # Step 6: the global control group (ads only), then the campaign's holdout.
        for mask, step, reason, detail in (
            (
                alive & control.loc[today.index],
                Step.CONTROL_GROUP,
                Reason.CONTROL_GROUP,
                f"in the global control group ({config.control_group.share:.0%} of customers get no ads)",
            ),
            (alive & holdout.loc[today.index], Step.HOLDOUT, Reason.HOLDOUT, "in this campaign's holdout"),
        ):
            mask = mask & today["excluded_step"].isna()
            today.loc[mask, ["excluded_step", "excluded_reason", "excluded_detail"]] = [step, reason, detail]
        # Step 7: nothing twice (a key planned on another day, or in the ledger for another day).
        alive = today["excluded_step"].isna()
        earlier = today["send_key"].map(planned_before)
        planned_earlier = alive & earlier.notna() & (earlier != day)
        in_ledger = alive & earlier.isna() & today["send_key"].isin(sent_index)
        in_ledger &= today["send_key"].map(inputs.sent_keys).astype(object) != day
        cycle = today["cycle"].astype(str)
        for mask, detail in (
            (planned_earlier, "this message (cycle " + cycle + ") was already planned on " + earlier.astype(str)),
            (in_ledger, "the delivery ledger already has this message (cycle " + cycle + ")"),
        ):
            if mask.any():
                today.loc[mask, "excluded_step"] = Step.ALREADY_SENT
                today.loc[mask, "excluded_reason"] = Reason.ALREADY_SENT
                today.loc[mask, "excluded_detail"] = detail[mask]
        # Step 8 (decided before the competition): the audience guard per campaign, on what is new. A
        # message the ledger already has (this day's own, on a rerun) has gone out: holding it protects
        # nobody, so it neither counts nor is held (delivery skips it).
        for campaign_id, group in today.groupby("campaign_id"):
            spec = specs[campaign_id]
            survivors = group.index[group["excluded_step"].isna()]
            new = survivors[~group.loc[survivors, "send_key"].isin(sent_index)]
            eligible = len(survivors)
            verdict = audience_guard(
                spec,
                day,
                len(new),
                guard_history[guard_history["campaign_id"] == campaign_id],
                int(inputs.customers_known.get(day, 0)),
                approvals.get((campaign_id, day)),
                config,
            )
            if verdict.state is GuardState.HELD:
                today.loc[new, "state_note"] = verdict.detail
            elif verdict.state is GuardState.REJECTED:
                today.loc[new, ["excluded_step", "excluded_reason", "excluded_detail"]] = [
                    Step.AUDIENCE_GUARD,
                    Reason.GUARD_REJECTED,
                    verdict.detail,
                ]
            else:
                guard_history = pd.concat(
                    [
                        guard_history,
                        pd.DataFrame([{"campaign_id": campaign_id, "as_of_date": day, "eligible": eligible}]),
                    ],
                    ignore_index=True,
                )
            campaign_days.append(
                {
                    "campaign_id": campaign_id,
                    "as_of_date": day,
                    "audience_size": len(group),
                    "eligible": eligible,
                    "baseline": verdict.baseline,
                    "guard_limit": verdict.limit,
                    "guard_state": str(verdict.state),
                }
            )
        # Steps 4-5 among the ads still competing (held campaigns do not compete).
        competing = today["excluded_step"].isna() & today["state_note"].isna() & (today["purpose"] == Purpose.AD)
        competing &= today["campaign_id"].map(lambda c: specs[c].frequency_cap_class != UNCAPPED_CLASS)
        contested = caps_and_collisions(today[competing], calendar, specs, config)
        verdict_columns = ["excluded_step", "excluded_reason", "excluded_detail"]
        today.loc[contested.index, verdict_columns] = contested[verdict_columns]
        going = today["excluded_step"].isna() & today["state_note"].isna()
        planned_before.update(dict.fromkeys(today.loc[going, "send_key"], day))
        done.append(today)

    decided = pd.concat(done)
    return _results(decided, verdicts, specs, config, pd.DataFrame(campaign_days))


def _results(
    decided: pd.DataFrame,
    verdicts: pd.DataFrame,
    specs: Mapping[str, CampaignSpec],
    config: PolicyConfig,
    campaign_days: pd.DataFrame,
) -> PolicyResult:
    held = decided["excluded_step"].isna() & decided["state_note"].notna()
    planned = decided["excluded_step"].isna() & ~held
    decided = decided.assign(
        decision=[
            Decision.HELD if h else Decision.PLANNED if p else Decision.EXCLUDED
            for h, p in zip(held, planned, strict=True)
        ],
        policy_step=decided["excluded_step"].where(~(held | planned), None),
        reason=decided["excluded_reason"].where(~(held | planned), None),
    )
    decided.loc[held, "policy_step"] = Step.AUDIENCE_GUARD
    decided.loc[held, "reason"] = Reason.HELD_FOR_APPROVAL
    decided.loc[planned, "policy_step"] = Step.PLANNED

    def planned_detail(channel: str, address: object, at: object, considered: object, night_note: object) -> str:
        parts = [f"{channel} to {mask_address(channel, address)} at {_fmt(at)}"]  # type: ignore[arg-type]
        consent = next((p for p in str(considered).split("; ") if p.startswith(f"{channel}:")), None)
        if consent:
            parts.append(consent.split(": ", 1)[1])
        if isinstance(night_note, str):
            parts.append(night_note)
        return "; ".join(parts)

    details = []
    columns = ["decision", "excluded_detail", "channel", "address", "scheduled_at", "channels_considered"]
    for decision, excluded, channel, address, at, considered, note, night in zip(
        *(decided[c] for c in columns), decided["state_note"], decided["night_note"], strict=True
    ):
        if decision == Decision.EXCLUDED:
            details.append(excluded)
        elif decision == Decision.HELD:
            details.append(f"{planned_detail(channel, address, at, considered, night)}; {note}")
        else:
            details.append(planned_detail(channel, address, at, considered, night))
    decided["detail"] = details
    decided["scheduled_at"] = decided["scheduled_at"].where(decided["decision"] != Decision.EXCLUDED, None)
    decisions = (
        decided[DECISION_COLUMNS].sort_values(["as_of_date", "campaign_id", "customer_id"]).reset_index(drop=True)
    )
    decisions = decisions.astype(object).where(decisions.notna(), None)

    sends = decided[decided["decision"] != Decision.EXCLUDED].copy()
    sends["priority"] = sends["campaign_id"].map(lambda c: specs[c].priority)
    sends["cap_class"] = sends["campaign_id"].map(lambda c: specs[c].frequency_cap_class)
    sends["cost_krw"] = sends["message_type"].map(lambda t: float(config.prices_krw[t]))
    sends["state"] = sends["decision"].map(
        lambda d: str(SendState.HELD) if d == Decision.HELD else str(SendState.SCHEDULED)
    )
    planned_sends = (
        sends[PLANNED_COLUMNS].sort_values(["as_of_date", "scheduled_at", "send_key"]).reset_index(drop=True)
    )

    counts = decisions.groupby(["campaign_id", "as_of_date", "decision"]).size().unstack(fill_value=0)
    days = campaign_days.set_index(["campaign_id", "as_of_date"])
    for column, decision in (("planned", Decision.PLANNED), ("held", Decision.HELD), ("excluded", Decision.EXCLUDED)):
        days[column] = counts[decision].reindex(days.index, fill_value=0) if decision in counts else 0
    return PolicyResult(decisions, planned_sends, days.reset_index()[CAMPAIGN_DAY_COLUMNS])


def data_json(data: Mapping[str, str]) -> str:
    return json.dumps(dict(data), ensure_ascii=False, sort_keys=True)
