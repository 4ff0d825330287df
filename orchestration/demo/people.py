"""Who the customers are: sign-up, acquisition, contact data, and what they agreed to be sent.

A customer's whole buying disposition (favourite category, cycle, churn) is drawn here too, so that
every other table reads one consistent story per customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from orchestration.demo import csvout
from orchestration.demo.catalog import (
    CATEGORIES,
    CHANNELS,
    DIRECT_CHANNEL,
    EMAIL_DOMAINS,
    GIVEN_NAMES,
    REFERRAL_CHANNEL,
    SURNAMES,
)
from orchestration.demo.clock import DAY, HOUR, History, exponential_seconds
from orchestration.demo.csvout import NONE, Table
from orchestration.demo.dirty import CODE, Dirt, Roles, spoil

CAMPAIGNS: tuple[str, ...] = tuple(dict.fromkeys(c for ch in CHANNELS for c in ch.campaigns))
UTM_SOURCES: tuple[str, ...] = tuple(dict.fromkeys(ch.source for ch in CHANNELS if ch.source))
UTM_MEDIUMS: tuple[str, ...] = tuple(dict.fromkeys(ch.medium for ch in CHANNELS if ch.medium))
# Channel index -> code in UTM_SOURCES / UTM_MEDIUMS; the trailing -1 lets NONE (-1) index it directly.
SOURCE_OF_CHANNEL = np.array([UTM_SOURCES.index(c.source) if c.source else -1 for c in CHANNELS] + [-1])
MEDIUM_OF_CHANNEL = np.array([UTM_MEDIUMS.index(c.medium) if c.medium else -1 for c in CHANNELS] + [-1])
_CAMPAIGN_OFFSET = np.array([CAMPAIGNS.index(c.campaigns[0]) if c.campaigns else -1 for c in CHANNELS])
_CAMPAIGN_COUNT = np.array([len(c.campaigns) for c in CHANNELS])

CONSENT_CHANNELS: tuple[str, ...] = ("email", "sms", "kakao", "app_push", "web_push")
PURPOSES: tuple[str, ...] = ("ad", "night_ad", "info")
CONSENT_SOURCES: tuple[str, ...] = (
    "signup_form",
    "checkout",
    "app_settings",
    "080_optout",
    "unsubscribe_link",
    "mypage",
    "event_page",
    "reconfirm_notice",
    "browser_prompt",
    "restock_alert",
)
AD, NIGHT, INFO = 0, 1, 2
APP_PUSH, WEB_PUSH = 3, 4
# Where a withdrawal of advertising consent arrives from, per form channel (email, sms, kakao).
_WITHDRAW_SOURCE = np.array([CONSENT_SOURCES.index(s) for s in ("unsubscribe_link", "080_optout", "mypage")])
# The forms that capture a lead: a restock alert (needs a phone number for the alert), an event entry
# (needs an email address), with the chance of leaving the other contact too and of ticking advertising.
_LEAD_FORMS = np.array([CONSENT_SOURCES.index(s) for s in ("restock_alert", "event_page")])
_LEAD_FORM_SHARE = (0.6, 0.4)
_LEAD_OTHER_CONTACT = np.array([0.35, 0.6])  # restock alert: also an email; event entry: also a phone
_LEAD_AD_PREF = np.array([0.55, 0.85])  # event entries usually come with a marketing tick box
_LEAD_INTEREST_DAYS = 150  # mean time retargeting ads keep bringing a lead back

NEVER_BUY_SHARE = 0.25
# Valentine's, White Day, Children's and Parents' Day, 11/11 and Christmas (month * 100 + day).
_GIFTING_DAYS = np.array([214, 314, 505, 508, 1111, 1224, 1225])
_BASE36 = "abcdefghijklmnopqrstuvwxyz0123456789"
_RANDOM_LOCAL_LEN = 8


@dataclass(frozen=True)
class Customers:
    """One entry per customer, in sign-up order (which is also customer_id order)."""

    signup: np.ndarray  # int64 seconds
    first_order: np.ndarray  # int64 seconds of the first order, NONE if none inside the history
    favourite: np.ndarray  # int8 index into CATEGORIES
    cycle_days: np.ndarray  # float64: this customer's usual days between orders
    churn: np.ndarray  # float64: chance of never coming back after each order
    channel: np.ndarray  # int8 index into CHANNELS
    campaign: np.ndarray  # int16 index into CAMPAIGNS or NONE
    referred_by: np.ndarray  # int64 customer index of the referrer, NONE if not referred
    visited_before: np.ndarray  # bool: browsed anonymously before signing up (an identity link)
    ad_pref: np.ndarray  # bool: ticks advertising boxes when asked
    night_pref: np.ndarray  # bool: also agrees to night-time advertising

    @property
    def n(self) -> int:
        return len(self.signup)


@dataclass(frozen=True)
class Leads:
    """Identified contacts who never signed up: a paid ad brought them, and a form (a restock alert, an
    event entry) took their contact. Their customer indices follow the customers', in capture order."""

    first: int  # customer index of the first lead (= the number of customers)
    captured: np.ndarray  # int64 seconds: the form was sent (identity link and consents)
    channel: np.ndarray  # int8 index into CHANNELS: the paid ad that brought them
    campaign: np.ndarray  # int16 index into CAMPAIGNS
    form: np.ndarray  # int8 index into CONSENT_SOURCES
    contact: np.ndarray  # (n, 2) bool: left an email address / a phone number
    ad: np.ndarray  # (n, 2) bool: advertising consent on email / sms
    night: np.ndarray  # bool: also night-time advertising (where advertising was ticked)
    info: np.ndarray  # (n, 2) bool: informational messages on email / sms
    interested_until: np.ndarray  # int64 seconds: retargeting ads bring them back until then

    @property
    def n(self) -> int:
        return len(self.captured)


def signup_day_weights(history: History) -> np.ndarray:
    """A growing shop: more visits later, fewer at weekends, spikes on Korean gifting days."""
    d = np.arange(history.days)
    w = 1.0 + 1.5 * d / max(history.days - 1, 1)
    weekday = (history.start.weekday() + d) % 7
    w *= np.where(weekday >= 5, 0.85, 1.0)
    month_day = history.yyyymmdd(history.t0 + d * DAY) % 10_000
    w *= np.where(np.isin(month_day, _GIFTING_DAYS), 3.0, 1.0)
    return w


def draw_customers(rng: np.random.Generator, n: int, history: History) -> Customers:
    signup = np.sort(history.moments(rng, n, signup_day_weights(history)))
    buys = rng.random(n) >= NEVER_BUY_SHARE
    same_session = rng.random(n) < 0.45
    delay = np.where(same_session, rng.integers(2 * 60, 3 * HOUR, n), 2 * 60 + exponential_seconds(rng, 20, n))
    first_order = np.where(buys & (signup + delay <= history.t_end), signup + delay, NONE)

    cat_share = np.array([share for _, _, share in CATEGORIES])
    favourite = rng.choice(len(CATEGORIES), size=n, p=cat_share / cat_share.sum()).astype(np.int8)
    cat_cycle = np.array([days or 90 for _, days, _ in CATEGORIES], dtype=np.float64)
    cycle_days = cat_cycle[favourite] * rng.lognormal(0.0, 0.35, n)
    churn = np.clip(rng.beta(2.0, 5.0, n), 0.03, 0.95)

    channel = draw_channels(rng, n, "signup")
    referred_by = _referrers(rng, channel, signup, first_order)
    # The very first customers cannot have been referred by anyone: they came directly.
    channel[(channel == REFERRAL_CHANNEL) & (referred_by < 0)] = DIRECT_CHANNEL
    campaign = campaigns_for(rng, channel)
    visited_before = (rng.random(n) < 0.45) & (signup - history.t0 > 600)
    ad_pref = rng.random(n) < 0.62
    night_pref = rng.random(n) < 0.15
    return Customers(
        signup=signup,
        first_order=first_order,
        favourite=favourite,
        cycle_days=cycle_days,
        churn=churn,
        channel=channel,
        campaign=campaign,
        referred_by=referred_by,
        visited_before=visited_before,
        ad_pref=ad_pref,
        night_pref=night_pref,
    )


def draw_channels(rng: np.random.Generator, n: int, brings: Literal["signup", "visitor", "lead"]) -> np.ndarray:
    """`n` channels (indices into CHANNELS) drawn by how often each brings sign-ups, anonymous visitors or
    leads (paid ads only)."""
    w = np.array([getattr(c, f"{brings}_weight") for c in CHANNELS])
    return rng.choice(len(CHANNELS), size=n, p=w / w.sum()).astype(np.int8)


def draw_leads(rng: np.random.Generator, first: int, n: int, history: History) -> Leads:
    """Leads arrive like sign-ups (a growing shop), each after an ad visit a few minutes or days before."""
    # Ten minutes into the history at the earliest, so the ad visit before the form fits inside it.
    captured = np.maximum(np.sort(history.moments(rng, n, signup_day_weights(history))), history.t0 + 600)
    channel = draw_channels(rng, n, "lead")
    campaign = campaigns_for(rng, channel)
    kind = (rng.random(n) >= _LEAD_FORM_SHARE[0]).astype(np.int64)  # 0 restock alert, 1 event entry
    other = rng.random(n) < _LEAD_OTHER_CONTACT[kind]
    contact = np.stack([(kind == 1) | other, (kind == 0) | other], axis=1)
    ad = contact & (rng.random(n) < _LEAD_AD_PREF[kind])[:, None] & (rng.random((n, 2)) < 0.95)
    return Leads(
        first=first,
        captured=captured,
        channel=channel,
        campaign=campaign,
        form=_LEAD_FORMS[kind].astype(np.int8),
        contact=contact,
        ad=ad,
        night=ad.any(axis=1) & (rng.random(n) < 0.15),
        info=contact & (rng.random((n, 2)) < 0.97),
        interested_until=captured + exponential_seconds(rng, _LEAD_INTEREST_DAYS, n),
    )


def campaigns_for(rng: np.random.Generator, channel: np.ndarray) -> np.ndarray:
    """A campaign of the channel per row (NONE for channels without campaigns)."""
    count = _CAMPAIGN_COUNT[channel]
    pick = np.floor(rng.random(len(channel)) * np.maximum(count, 1)).astype(np.int64)
    return np.where(count > 0, _CAMPAIGN_OFFSET[channel] + pick, NONE).astype(np.int16)


def _referrers(
    rng: np.random.Generator, channel: np.ndarray, signup: np.ndarray, first_order: np.ndarray
) -> np.ndarray:
    """Referred customers point at someone who had already ordered when they signed up."""
    referred = np.flatnonzero(channel == REFERRAL_CHANNEL)
    buyers = np.flatnonzero(first_order >= 0)
    buyers = buyers[np.argsort(first_order[buyers], kind="stable")]
    available = np.searchsorted(first_order[buyers], signup[referred], side="left")
    rank = np.floor(rng.random(len(referred)) * available).astype(np.int64)
    out = np.full(len(signup), NONE, dtype=np.int64)
    ok = available > 0
    out[referred[ok]] = buyers[rank[ok]]
    return out


def customers_table(
    rng: np.random.Generator, c: Customers, leads: Leads, history: History, share: float, id_width: int
) -> Table:
    """Customers, then leads (no sign-up time; only the contacts their form asked for)."""
    n = c.n + leads.n
    idx = np.arange(n, dtype=np.int64)
    sur_w = np.array([w for _, _, w in SURNAMES])
    given_w = np.array([w for _, _, w in GIVEN_NAMES])
    surname = rng.choice(len(SURNAMES), size=n, p=sur_w / sur_w.sum()).astype(np.int16)
    given = rng.choice(len(GIVEN_NAMES), size=n, p=given_w / given_w.sum()).astype(np.int16)

    dom_w = np.array([w for _, w in EMAIL_DOMAINS])
    domain = rng.choice(len(EMAIL_DOMAINS), size=n, p=dom_w / dom_w.sum()).astype(np.int8)
    style = rng.choice(3, size=n, p=[0.35, 0.35, 0.30]).astype(np.int8)
    number = np.where(style == 0, rng.integers(70, 106, n) % 100, rng.integers(0, 10_000, n))
    # Two customers never share an address: repeats of a romanised address become random ones, and
    # random local parts are a bijection of the customer index, so they cannot repeat either.
    key = ((style.astype(np.int64) * len(SURNAMES) + surname) * len(GIVEN_NAMES) + given) * 10_000 + number
    key = key * len(EMAIL_DOMAINS) + domain
    first = np.zeros(n, dtype=bool)
    first[np.unique(key, return_index=True)[1]] = True
    style[~first] = 2
    mult = 6 * int(rng.integers(10**8, 10**9)) + 1  # coprime to 36
    number = np.where(style == 2, (idx * mult + int(rng.integers(0, 36**8))) % 36**_RANDOM_LOCAL_LEN, number)
    no_email = rng.random(n) < 0.03
    no_email[c.n :] = ~leads.contact[:, 0]
    style[no_email] = NONE

    # 8-digit subscriber numbers, unique per customer (a bijection mod 8e7), never starting with 0/1.
    phone_mult = 10 * int(rng.integers(10**6, 10**7)) + int(rng.choice([1, 3, 7, 9]))
    phone = 20_000_000 + (idx * phone_mult + int(rng.integers(0, 80_000_000))) % 80_000_000
    no_phone = rng.random(n) < 0.04
    no_phone[c.n :] = ~leads.contact[:, 1]
    phone[no_phone] = NONE
    phone_fmt = rng.choice(3, size=n, p=[0.55, 0.33, 0.12]).astype(np.int8)

    channel = np.concatenate([c.channel, leads.channel])
    cols = {
        "cust": idx,
        "surname": surname,
        "surname_rom": surname,
        "given": given,
        "given_rom": given,
        "style": style,
        "number": number,
        "domain": domain,
        "phone": phone,
        "phone_fmt": phone_fmt,
        "signup": np.concatenate([c.signup, np.full(leads.n, NONE)]),
        "fmt": csvout.offset_formats(rng, n, 0.01),
        "source": SOURCE_OF_CHANNEL[channel].astype(np.int8),
        "medium": MEDIUM_OF_CHANNEL[channel].astype(np.int8),
        "campaign": np.concatenate([c.campaign, leads.campaign]),
        "referred_by": np.concatenate([c.referred_by, np.full(leads.n, NONE)]),
        "dirty": np.zeros(n, dtype=np.int8),
    }
    cols = spoil(
        rng,
        cols,
        (Dirt.BAD_PHONE, Dirt.DUPLICATE_KEY, Dirt.BAD_TIMESTAMP, Dirt.FUTURE_TIMESTAMP),
        share,
        history=history,
        roles=Roles(ts="signup", phone="phone"),
        eligible=np.concatenate([c.first_order < 0, np.zeros(leads.n, dtype=bool)]),
    )
    select = (
        ("customer_id", csvout.key("C", "cust", id_width)),
        ("name", "CAST(surname AS VARCHAR) || CAST(given AS VARCHAR)"),
        ("email", _email_sql()),
        ("phone", _phone_sql()),
        ("signed_up_at", f"CASE WHEN signup >= 0 THEN {csvout.timestamp('signup', fmt='fmt')} END"),
        ("acquisition_source", "source"),
        ("acquisition_medium", "medium"),
        ("acquisition_campaign", "campaign"),
        ("referred_by", csvout.key("C", "referred_by", id_width)),
    )
    labels = {
        "surname": [s for s, _, _ in SURNAMES],
        "surname_rom": [r for _, r, _ in SURNAMES],
        "given": [g for g, _, _ in GIVEN_NAMES],
        "given_rom": [r for _, r, _ in GIVEN_NAMES],
        "domain": [d for d, _ in EMAIL_DOMAINS],
        "source": UTM_SOURCES,
        "medium": UTM_MEDIUMS,
        "campaign": CAMPAIGNS,
    }
    return Table("customers.csv", cols, select, labels)


def _email_sql() -> str:
    base36 = " || ".join(
        f"substr('{_BASE36}', CAST(number // {36**k} % 36 AS INTEGER) + 1, 1)"
        for k in range(_RANDOM_LOCAL_LEN - 1, -1, -1)
    )
    local = (
        "CASE style "
        "WHEN 0 THEN CAST(given_rom AS VARCHAR) || '.' || CAST(surname_rom AS VARCHAR) "
        "|| lpad(CAST(number AS VARCHAR), 2, '0') "
        "WHEN 1 THEN CAST(surname_rom AS VARCHAR) || CAST(given_rom AS VARCHAR) "
        "|| lpad(CAST(number AS VARCHAR), 4, '0') "
        f"WHEN 2 THEN {base36} END"
    )
    return f"{local} || '@' || CAST(domain AS VARCHAR)"


def _phone_sql() -> str:
    mid = "lpad(CAST(phone // 10000 AS VARCHAR), 4, '0')"
    last = "lpad(CAST(phone % 10000 AS VARCHAR), 4, '0')"
    bad = (
        f"CASE phone % 3 WHEN 0 THEN '010-' || {mid} || '-' || left({last}, 3) "  # a digit short
        f"WHEN 1 THEN '010-' || {mid} || '-' || left({last}, 3) || 'O' "  # letter O for zero
        f"ELSE '02-' || right({mid}, 3) || '-' || {last} END"  # a Seoul landline
    )
    good = (
        f"CASE phone_fmt WHEN 0 THEN '010-' || {mid} || '-' || {last} "
        f"WHEN 1 THEN '010' || {mid} || {last} "
        f"ELSE '+82 10-' || {mid} || '-' || {last} END"
    )
    return f"CASE WHEN dirty = {CODE[Dirt.BAD_PHONE]} THEN {bad} WHEN phone >= 0 THEN {good} END"


# --- app and browser push ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PushTokens:
    cust: np.ndarray
    registered: np.ndarray
    revoked: np.ndarray  # NONE if still valid
    platform: np.ndarray  # 0 android, 1 ios
    first: np.ndarray  # bool: the customer's first token (app consent is asked then)


def draw_push_tokens(rng: np.random.Generator, c: Customers, history: History) -> PushTokens:
    """About 40% install the app; some change phones later (old token revoked, new one registered)."""
    n = c.n
    soon = rng.random(n) < 0.5
    delay = np.where(soon, rng.integers(60, HOUR, n), exponential_seconds(rng, 30, n) + HOUR)
    reg = c.signup + delay
    owner = np.flatnonzero((rng.random(n) < 0.42) & (reg <= history.t_end))
    reg = reg[owner]
    platform = (rng.random(len(owner)) < 0.32).astype(np.int8)
    revoke = reg + HOUR + exponential_seconds(rng, 120, len(owner))
    revoked = np.where((rng.random(len(owner)) < 0.15) & (revoke <= history.t_end), revoke, NONE)
    new_reg = revoked + rng.integers(60, 3 * DAY, len(owner))
    again = np.flatnonzero((revoked >= 0) & (rng.random(len(owner)) < 0.5) & (new_reg <= history.t_end))
    new_platform = np.where(rng.random(len(again)) < 0.8, platform[again], 1 - platform[again])

    cust = np.concatenate([owner, owner[again]])
    registered = np.concatenate([reg, new_reg[again]])
    order = np.argsort(registered, kind="stable")
    return PushTokens(
        cust=cust[order],
        registered=registered[order],
        revoked=np.concatenate([revoked, np.full(len(again), NONE)])[order],
        platform=np.concatenate([platform, new_platform]).astype(np.int8)[order],
        first=np.concatenate([np.ones(len(owner), bool), np.zeros(len(again), bool)])[order],
    )


def push_tokens_table(rng: np.random.Generator, t: PushTokens, history: History, share: float, id_width: int) -> Table:
    n = len(t.cust)
    cols = {
        "cust": t.cust,
        "seed": rng.integers(0, 2**62, n),
        "platform": t.platform,
        "registered": t.registered.copy(),
        "revoked": t.revoked,
        "dirty": np.zeros(n, dtype=np.int8),
    }
    cols = spoil(
        rng,
        cols,
        (Dirt.BAD_TIMESTAMP, Dirt.FUTURE_TIMESTAMP),
        share,
        history=history,
        roles=Roles(ts="registered"),
        eligible=t.revoked < 0,
    )
    # FCM registration tokens: an instance id, ':APA91b', then a long base64url tail; 140-160 chars.
    head = f"left({csvout.b64url('unhex(' + csvout.random_bytes('seed', 'i', md5=True) + ')')}, 22)"
    tail_bytes = "unhex(" + csvout.random_bytes("seed", "t", sha256_blocks=4) + ")"
    tail = f"left({csvout.b64url(tail_bytes)}, 111 + CAST(seed % 21 AS INTEGER))"
    select = (
        ("customer_id", csvout.key("C", "cust", id_width)),
        ("token", f"{head} || ':APA91b' || {tail}"),
        ("platform", "platform"),
        ("registered_at", csvout.timestamp("registered")),
        ("revoked_at", csvout.optional_timestamp("revoked")),
    )
    return Table("push_tokens.csv", cols, select, {"platform": ("android", "ios")})


@dataclass(frozen=True)
class WebPush:
    cust: np.ndarray
    subscribed: np.ndarray
    revoked: np.ndarray


def draw_web_push(rng: np.random.Generator, c: Customers, history: History) -> WebPush:
    n = c.n
    soon = rng.random(n) < 0.3
    sub = c.signup + np.where(soon, rng.integers(30, 20 * 60, n), HOUR + exponential_seconds(rng, 20, n))
    owner = np.flatnonzero((rng.random(n) < 0.11) & (sub <= history.t_end))
    sub = sub[owner]
    revoke = sub + DAY + exponential_seconds(rng, 90, len(owner))
    revoked = np.where((rng.random(len(owner)) < 0.2) & (revoke <= history.t_end), revoke, NONE)
    order = np.argsort(sub, kind="stable")
    return WebPush(owner[order], sub[order], revoked[order])


def web_push_table(rng: np.random.Generator, w: WebPush, history: History, share: float, id_width: int) -> Table:
    n = len(w.cust)
    cols = {
        "cust": w.cust,
        "seed": rng.integers(0, 2**62, n),
        "subscribed": w.subscribed.copy(),
        "revoked": w.revoked,
        "dirty": np.zeros(n, dtype=np.int8),
    }
    cols = spoil(
        rng,
        cols,
        (Dirt.BAD_TIMESTAMP,),
        share,
        history=history,
        roles=Roles(ts="subscribed"),
    )
    endpoint_id = csvout.b64url("unhex(" + csvout.random_bytes("seed", "e", md5=True) + ")")
    # p256dh is an uncompressed P-256 point: 0x04 then 64 bytes; auth is a 16-byte secret.
    p256dh = csvout.b64url("unhex('04' || " + csvout.random_bytes("seed", "p", sha256_blocks=2) + ")")
    auth = csvout.b64url("unhex(" + csvout.random_bytes("seed", "a", md5=True) + ")")
    select = (
        ("customer_id", csvout.key("C", "cust", id_width)),
        ("endpoint", f"'https://push.example.net/wp/' || {endpoint_id}"),
        ("p256dh", p256dh),
        ("auth", auth),
        ("subscribed_at", csvout.timestamp("subscribed")),
        ("revoked_at", csvout.optional_timestamp("revoked")),
    )
    return Table("web_push_subscriptions.csv", cols, select)


# --- consents -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdWindows:
    """Per customer and message channel (email, sms, kakao, app_push): from when until when advertising
    may reach them (NONE start = never); used so message clicks only happen while consent holds."""

    start: np.ndarray  # (n, 4) int64
    end: np.ndarray  # (n, 4) int64


def consents_table(
    rng: np.random.Generator,
    c: Customers,
    leads: Leads,
    tokens: PushTokens,
    web: WebPush,
    history: History,
    share: float,
    id_width: int,
) -> tuple[Table, AdWindows]:
    """The append-only consent history: the sign-up form, then withdrawals, re-grants, late grants,
    two-yearly re-confirmations, the app/browser prompts and the leads' forms, in the order they happened."""
    n = c.n
    # Sign-up form: advertising per form channel (email, sms, kakao), night-time advertising asked only
    # where advertising was ticked, informational messages almost always accepted.
    ad = c.ad_pref[:, None] & (rng.random((n, 3)) < 0.9)
    info = rng.random((n, 3)) < 0.97
    night = np.broadcast_to(c.night_pref[:, None], (n, 3))
    present = np.concatenate([np.ones((n, 3), bool), ad, np.ones((n, 3), bool)], axis=1)
    granted = np.concatenate([ad, night & ad, info], axis=1)
    channel = np.tile(np.array([0, 1, 2] * 3, dtype=np.int8), (n, 1))
    purpose = np.tile(np.repeat(np.array([AD, NIGHT, INFO], dtype=np.int8), 3), (n, 1))
    cust_grid = np.broadcast_to(np.arange(n)[:, None], (n, 9))
    signup_rows = {
        "cust": cust_grid[present],
        "channel": channel[present],
        "purpose": purpose[present],
        "granted": granted[present],
        "ts": np.broadcast_to(c.signup[:, None], (n, 9))[present],
        "source": np.zeros(int(present.sum()), dtype=np.int8),
    }

    changes: list[dict[str, np.ndarray]] = []
    # Withdrawals of advertising (with the night-time consent on the same channel), some re-granted.
    wd_ts = c.signup[:, None] + DAY + exponential_seconds(rng, 150, 3 * n).reshape(n, 3)
    withdrawn = ad & (rng.random((n, 3)) < 0.05) & (wd_ts <= history.t_end)
    wc, wch = np.nonzero(withdrawn)
    wts = wd_ts[wc, wch]
    changes.append(_rows(wc, wch, AD, False, wts, _WITHDRAW_SOURCE[wch]))
    nights = c.night_pref[wc]
    changes.append(_rows(wc[nights], wch[nights], NIGHT, False, wts[nights], _WITHDRAW_SOURCE[wch[nights]]))
    rg_ts = wts + DAY + exponential_seconds(rng, 90, len(wc))
    regrant = (rng.random(len(wc)) < 0.25) & (rg_ts <= history.t_end)
    rg_src = np.where(rng.random(len(wc)) < 0.6, CONSENT_SOURCES.index("checkout"), CONSENT_SOURCES.index("mypage"))
    changes.append(_rows(wc[regrant], wch[regrant], AD, True, rg_ts[regrant], rg_src[regrant]))

    # Customers who said no at sign-up and yes later: at their first checkout or on an event page.
    late = np.flatnonzero(~c.ad_pref & (rng.random(n) < 0.08))
    late_ch = rng.choice(3, size=len(late), p=[0.15, 0.25, 0.6]).astype(np.int8)
    at_checkout = c.first_order[late] >= 0
    late_ts = np.where(at_checkout, c.first_order[late], c.signup[late] + DAY + exponential_seconds(rng, 60, len(late)))
    late_src = np.where(at_checkout, CONSENT_SOURCES.index("checkout"), CONSENT_SOURCES.index("event_page"))
    ok = late_ts <= history.t_end
    changes.append(_rows(late[ok], late_ch[ok], AD, True, late_ts[ok], late_src[ok]))

    # Korean law asks for advertising consent to be re-confirmed every two years; half the shops' records
    # show the re-confirmation, the rest are left stale (that is what dangol must catch).
    rc_ts = c.signup[:, None] + 730 * DAY + rng.integers(0, 14 * DAY, (n, 1))
    reconfirm = ad & ~withdrawn & (rng.random((n, 1)) < 0.5) & (rc_ts <= history.t_end)
    rcc, rch = np.nonzero(reconfirm)
    changes.append(_rows(rcc, rch, AD, True, rc_ts[rcc, 0], CONSENT_SOURCES.index("reconfirm_notice")))

    # App push consent is asked on the first app start, browser push consent at the browser prompt.
    first = tokens.first
    tc, tts = tokens.cust[first], tokens.registered[first]
    app_ad = rng.random(len(tc)) < np.where(c.ad_pref[tc], 0.8, 0.2)
    app_src = CONSENT_SOURCES.index("app_settings")
    changes.append(_rows(tc, APP_PUSH, AD, app_ad, tts, app_src))
    changes.append(_rows(tc[app_ad], APP_PUSH, NIGHT, c.night_pref[tc[app_ad]], tts[app_ad], app_src))
    changes.append(_rows(tc, APP_PUSH, INFO, rng.random(len(tc)) < 0.95, tts, app_src))
    web_ad = rng.random(len(web.cust)) < np.where(c.ad_pref[web.cust], 0.6, 0.1)
    web_src = CONSENT_SOURCES.index("browser_prompt")
    changes.append(_rows(web.cust, WEB_PUSH, AD, web_ad, web.subscribed, web_src))
    changes.append(_rows(web.cust, WEB_PUSH, INFO, True, web.subscribed, web_src))

    # A lead's form asks, per contact it took (email, sms), like the sign-up form does.
    lc, lch = np.nonzero(leads.contact)
    lcust, lts, lsrc = leads.first + lc, leads.captured[lc], leads.form[lc]
    ticked = leads.ad[lc, lch]
    changes.append(_rows(lcust, lch, AD, ticked, lts, lsrc))
    changes.append(_rows(lcust[ticked], lch[ticked], NIGHT, leads.night[lc[ticked]], lts[ticked], lsrc[ticked]))
    changes.append(_rows(lcust, lch, INFO, leads.info[lc, lch], lts, lsrc))

    cols = _merge_by_time(signup_rows, changes)
    cols["dirty"] = np.zeros(len(cols["ts"]), dtype=np.int8)
    cols = spoil(
        rng,
        cols,
        (Dirt.BAD_TIMESTAMP, Dirt.FUTURE_TIMESTAMP),
        share,
        history=history,
        roles=Roles(ts="ts"),
    )
    select = (
        ("customer_id", csvout.key("C", "cust", id_width)),
        ("channel", "channel"),
        ("purpose", "purpose"),
        ("granted", "CASE WHEN granted THEN 'true' ELSE 'false' END"),
        ("recorded_at", csvout.timestamp("ts")),
        ("source", "source"),
    )
    labels = {"channel": CONSENT_CHANNELS, "purpose": PURPOSES, "source": CONSENT_SOURCES}
    table = Table("consents.csv", cols, select, labels)
    return table, _ad_windows(c, ad, withdrawn, wd_ts, tokens, tc, app_ad, history)


def _rows(
    cust: np.ndarray,
    channel: int | np.ndarray,
    purpose: int,
    granted: bool | np.ndarray,
    ts: np.ndarray,
    source: int | np.ndarray,
) -> dict[str, np.ndarray]:
    k = len(cust)
    return {
        "cust": cust.astype(np.int64),
        "channel": np.broadcast_to(np.asarray(channel, dtype=np.int8), (k,)),
        "purpose": np.full(k, purpose, dtype=np.int8),
        "granted": np.broadcast_to(np.asarray(granted, dtype=bool), (k,)),
        "ts": ts.astype(np.int64),
        "source": np.broadcast_to(np.asarray(source, dtype=np.int8), (k,)),
    }


def _merge_by_time(base: dict[str, np.ndarray], extra: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Interleave later changes into the (already time-ordered) sign-up rows without a full sort."""
    more = {name: np.concatenate([e[name] for e in extra]) for name in base}
    order = np.argsort(more["ts"], kind="stable")
    more = {name: values[order] for name, values in more.items()}
    at = np.searchsorted(base["ts"], more["ts"], side="right") + np.arange(len(order))
    is_extra = np.zeros(len(base["ts"]) + len(order), dtype=bool)
    is_extra[at] = True
    out = {}
    for name, values in base.items():
        merged = np.empty(len(is_extra), dtype=values.dtype)
        merged[is_extra] = more[name]
        merged[~is_extra] = values
        out[name] = merged
    return out


def _ad_windows(
    c: Customers,
    ad: np.ndarray,
    withdrawn: np.ndarray,
    wd_ts: np.ndarray,
    tokens: PushTokens,
    token_cust: np.ndarray,
    app_ad: np.ndarray,
    history: History,
) -> AdWindows:
    n = c.n
    start = np.full((n, 4), NONE, dtype=np.int64)
    end = np.full((n, 4), NONE, dtype=np.int64)
    start[:, :3] = np.where(ad, c.signup[:, None], NONE)
    end[:, :3] = np.where(withdrawn, wd_ts, history.t_end)
    first = tokens.first
    app = token_cust[app_ad]
    start[app, 3] = tokens.registered[first][app_ad]
    revoked = tokens.revoked[first][app_ad]
    end[app, 3] = np.where(revoked >= 0, revoked, history.t_end)
    return AdWindows(start, end)
