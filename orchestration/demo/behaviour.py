"""What people do around the orders: web/app events, identity links, service chats and surveys.

Events are built per source (sign-ups, the funnel before each order, browsing, message clicks,
anonymous ad traffic, leads' ad visits) as flat arrays and then put in time order once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestration.demo import csvout
from orchestration.demo.catalog import (
    CATEGORIES,
    CHANNELS,
    DIRECT_CHANNEL,
    MESSAGE_CAMPAIGNS,
    MESSAGE_SOURCES,
    SURVEY_COMMENTS,
)
from orchestration.demo.clock import DAY, History, exponential_seconds
from orchestration.demo.commerce import Items, Orders, Products
from orchestration.demo.csvout import NONE, Table
from orchestration.demo.dirty import Dirt, Roles, spoil
from orchestration.demo.people import (
    CAMPAIGNS,
    MEDIUM_OF_CHANNEL,
    SOURCE_OF_CHANNEL,
    UTM_MEDIUMS,
    UTM_SOURCES,
    AdWindows,
    Customers,
    Leads,
    campaigns_for,
    draw_channels,
    signup_day_weights,
)

EVENT_TYPES: tuple[str, ...] = (
    "page_view",
    "product_view",
    "add_to_cart",
    "checkout_start",
    "sign_up",
    "message_click",
)
PAGE_VIEW, PRODUCT_VIEW, ADD_TO_CART, CHECKOUT_START, SIGN_UP, MESSAGE_CLICK = range(6)

# utm values on events: the acquisition channels, then one "crm" channel per message source.
EVENT_SOURCES: tuple[str, ...] = tuple(dict.fromkeys(UTM_SOURCES + MESSAGE_SOURCES))
EVENT_MEDIUMS: tuple[str, ...] = (*UTM_MEDIUMS, "crm")
EVENT_CAMPAIGNS: tuple[str, ...] = tuple(dict.fromkeys(CAMPAIGNS + MESSAGE_CAMPAIGNS))
_CRM = len(CHANNELS)  # event channel index of the first message source
_EVENT_SOURCE_OF = np.array(
    [SOURCE_OF_CHANNEL[i] for i in range(len(CHANNELS))] + [EVENT_SOURCES.index(s) for s in MESSAGE_SOURCES] + [-1]
)
_EVENT_MEDIUM_OF = np.array(
    [MEDIUM_OF_CHANNEL[i] for i in range(len(CHANNELS))] + [len(UTM_MEDIUMS)] * len(MESSAGE_SOURCES) + [-1]
)
_WELCOME = EVENT_CAMPAIGNS.index("welcome_series")
_LATER_CAMPAIGNS = np.array([EVENT_CAMPAIGNS.index(c) for c in MESSAGE_CAMPAIGNS if c != "welcome_series"])
_RETARGET_GAP_DAYS = 15  # mean days between a lead's retargeting-ad visits while they are interested

CHAT_TOPICS: tuple[str, ...] = ("delivery", "product", "refund", "payment", "other")
COMMENTS: tuple[str, ...] = tuple(text for by_score in SURVEY_COMMENTS for text in by_score)
_COMMENT_START = np.cumsum([0] + [len(c) for c in SURVEY_COMMENTS])[:-1]
_COMMENT_COUNT = np.array([len(c) for c in SURVEY_COMMENTS])


@dataclass(frozen=True)
class AnonIds:
    """Anonymous ids are a bijection of the visitor number (mod 2**48), so they never collide but do
    not reveal the order in which visitors arrived."""

    mult: int
    offset: int

    @staticmethod
    def draw(rng: np.random.Generator, visitors: int) -> AnonIds:
        # A large odd multiplier spreads neighbours apart; it must keep visitor * mult inside int64.
        top = min(2**39, 2**62 // max(visitors, 1))
        return AnonIds(2 * int(rng.integers(top // 4, top // 2)) + 1, int(rng.integers(0, 2**47)))

    def sql(self, col: str) -> str:
        value = f"(CAST({col} AS BIGINT) * {self.mult} + {self.offset}) % {2**48}"
        return f"CASE WHEN {col} >= 0 THEN 'anon_' || lpad(lower(to_hex({value})), 12, '0') END"


def _events(
    ts: np.ndarray,
    kind: int | np.ndarray,
    *,
    cust: int | np.ndarray = NONE,
    visitor: int | np.ndarray = NONE,
    product: int | np.ndarray = NONE,
    chan: int | np.ndarray = NONE,
    camp: int | np.ndarray = NONE,
) -> dict[str, np.ndarray]:
    """Events as three arrays: time, and two packed words (see _unpack).

    Tens of millions of events are put in time order by a random-access gather per array; packing
    seven columns into three makes that step (and the concatenation before it) about twice as fast.
    """
    n = len(ts)
    attrs = (
        (np.asarray(product, dtype=np.int64) + 1) << 14
        | (np.asarray(camp, dtype=np.int64) + 1) << 8
        | (np.asarray(chan, dtype=np.int64) + 1) << 3
        | np.asarray(kind, dtype=np.int64)
    )
    who = (np.asarray(cust, dtype=np.int64) + 1) << 32 | (np.asarray(visitor, dtype=np.int64) + 1)
    return {
        "ts": np.asarray(ts, dtype=np.int64),
        "attrs": np.broadcast_to(attrs, (n,)).astype(np.int32),
        "who": np.broadcast_to(who, (n,)).astype(np.int64),
    }


def _unpack(ts: np.ndarray, attrs: np.ndarray, who: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "ts": ts,
        "kind": (attrs & 0b111).astype(np.int8),
        "chan": ((attrs >> 3) & 0b11111).astype(np.int8) - 1,
        "camp": ((attrs >> 8) & 0b111111).astype(np.int8) - 1,
        "product": (attrs >> 14).astype(np.int16) - 1,
        "cust": (who >> 32).astype(np.int32) - 1,
        "visitor": (who & 0xFFFFFFFF).astype(np.int32) - 1,
    }


# The packed fields must fit their bit widths: 3 bits kind, 5 channel, 6 campaign, 17 product.
assert len(EVENT_TYPES) <= 8 and _CRM + len(MESSAGE_SOURCES) < 31 and len(EVENT_CAMPAIGNS) < 63


def _utm_channel(channel: np.ndarray) -> np.ndarray:
    """Direct visits and unknown sources carry no utm parameters."""
    no_utm = (channel == DIRECT_CHANNEL) | (SOURCE_OF_CHANNEL[channel] < 0)
    return np.where(no_utm, NONE, channel)


def _sessions(
    rng: np.random.Generator,
    p: Products,
    start: np.ndarray,
    category: np.ndarray,
    views: np.ndarray,
    carted: np.ndarray,
    max_step: np.ndarray | None = None,
    *,
    cust: np.ndarray | int = NONE,
    visitor: np.ndarray | int = NONE,
    chan: np.ndarray | int = NONE,
    camp: np.ndarray | int = NONE,
) -> dict[str, np.ndarray]:
    """Browsing sessions: a landing page view (carrying the utm), product views, maybe a cart add of
    the last product viewed, a few seconds to minutes apart."""
    carted = carted * (views > 0)  # only a product that was looked at goes into the cart
    size = 1 + views + carted
    s = np.repeat(np.arange(len(start)), size)
    k = np.arange(len(s)) - np.repeat(np.cumsum(size) - size, size)
    step = rng.integers(20, 200, len(start))
    if max_step is not None:
        step = np.minimum(step, max_step)
    kind = np.where(k == 0, PAGE_VIEW, np.where(k <= views[s], PRODUCT_VIEW, ADD_TO_CART))
    product = p.draw(rng, category[s])
    cart = kind == ADD_TO_CART
    product[cart] = product[np.flatnonzero(cart) - 1]
    product[kind == PAGE_VIEW] = NONE

    def per_event(v: np.ndarray | int) -> np.ndarray | int:
        return v[s] if isinstance(v, np.ndarray) else v

    first_only = k == 0
    return _events(
        start[s] + k * step[s],
        kind,
        cust=per_event(cust),
        visitor=per_event(visitor),
        product=product,
        chan=np.where(first_only, per_event(chan), NONE),
        camp=np.where(first_only, per_event(camp), NONE),
    )


def _any_category(rng: np.random.Generator, n: int) -> np.ndarray:
    share = np.array([s for _, _, s in CATEGORIES])
    return rng.choice(len(CATEGORIES), size=n, p=share / share.sum())


def _browse_category(rng: np.random.Generator, favourite: np.ndarray) -> np.ndarray:
    return np.where(rng.random(len(favourite)) < 0.6, favourite, _any_category(rng, len(favourite)))


@dataclass(frozen=True)
class Visitors:
    """Visitor numbers: customers who browsed before signing up first, then anonymous-only visitors,
    then leads (each came from an ad before leaving a contact)."""

    of_customer: np.ndarray  # per customer: visitor number, NONE if they never browsed anonymously
    anonymous: int  # how many visitors never signed up nor left a contact
    of_lead: np.ndarray  # per lead: visitor number

    @property
    def total(self) -> int:
        return int((self.of_customer >= 0).sum()) + self.anonymous + len(self.of_lead)


def draw_visitors(c: Customers, leads: Leads) -> Visitors:
    linked = np.cumsum(c.visited_before) - 1
    anonymous = round(0.5 * c.n)
    return Visitors(
        np.where(c.visited_before, linked, NONE),
        anonymous,
        int(c.visited_before.sum()) + anonymous + np.arange(leads.n, dtype=np.int64),
    )


def events_table(
    rng: np.random.Generator,
    c: Customers,
    p: Products,
    o: Orders,
    items: Items,
    ads: AdWindows,
    v: Visitors,
    anon: AnonIds,
    lead_visits: list[dict[str, np.ndarray]],
    history: History,
    share: float,
    id_width: int,
    browse_volume: float = 1.0,
    funnel_share: float = 1.0,
) -> Table:
    n = c.n
    utm = _utm_channel(c.channel)
    camp = np.where(utm >= 0, c.campaign, NONE)
    parts = [_events(c.signup, SIGN_UP, cust=np.arange(n), visitor=v.of_customer, chan=utm, camp=camp)]

    # Before signing up: a session (or an earlier visit) under an anonymous id only.
    pre = np.flatnonzero(v.of_customer >= 0)
    lead = np.where(
        rng.random(len(pre)) < 0.4, rng.integers(300, 2_400, len(pre)), 300 + exponential_seconds(rng, 7, len(pre))
    )
    # Sign-ups right after the history starts browsed from its first moments on, not before.
    early = c.signup[pre] - lead < history.t0
    start = np.where(early, history.t0 + (c.signup[pre] - history.t0) // 4, c.signup[pre] - lead)
    views = rng.integers(0, 4, len(pre))
    parts.append(
        _sessions(
            rng,
            p,
            start,
            _browse_category(rng, c.favourite[pre]),
            views,
            np.zeros(len(pre), np.int64),
            (c.signup[pre] - start) // (views + 2),
            visitor=v.of_customer[pre],
            chan=utm[pre],
            camp=camp[pre],
        )
    )
    parts.append(_order_funnels(rng, c, o, items, funnel_share))
    parts.extend(_message_clicks(rng, c, o, ads))

    # Later browsing without buying; a tenth of the sessions leave something in the cart.
    active_days = (history.t_end - c.signup) / DAY
    sessions = rng.poisson(browse_volume * active_days / 180)
    who = np.repeat(np.arange(n), sessions)
    lo, hi = c.signup[who] + 1, history.t_end - 1_200
    who, lo = who[lo <= hi], lo[lo <= hi]
    start = history.between(rng, lo, np.full(len(lo), hi))
    parts.append(
        _sessions(
            rng,
            p,
            start,
            _browse_category(rng, c.favourite[who]),
            np.minimum(1 + rng.poisson(0.8, len(who)), 4),
            (rng.random(len(who)) < 0.1).astype(np.int64),
            cust=who,
        )
    )

    # A few customers put an expensive item (150,000 won and up) in the cart and never buy it.
    high = p.high_priced
    ab = np.flatnonzero((rng.random(n) < 0.03) & (c.signup + 1 <= history.t_end - 1_200))
    ab_start = history.between(rng, c.signup[ab] + 1, np.full(len(ab), history.t_end - 1_200))
    ab_product = high[rng.integers(0, len(high), len(ab))]
    for k, kind in enumerate((PAGE_VIEW, PRODUCT_VIEW, ADD_TO_CART)):
        product = NONE if kind == PAGE_VIEW else ab_product
        parts.append(_events(ab_start + 60 * k, kind, cust=ab, product=product))

    # Visitors from ads and search who never sign up.
    visitors = v.anonymous
    vchan = draw_channels(rng, visitors, "visitor")
    vutm = _utm_channel(vchan)
    vcamp = np.where(vutm >= 0, campaigns_for(rng, vchan), NONE)
    vstart = np.minimum(history.moments(rng, visitors, signup_day_weights(history)), history.t_end - 1_200)
    parts.append(
        _sessions(
            rng,
            p,
            vstart,
            _any_category(rng, visitors),
            np.minimum(rng.poisson(1.2, visitors), 4),
            (rng.random(visitors) < 0.08).astype(np.int64),
            visitor=len(pre) + np.arange(visitors),
            chan=vutm,
            camp=vcamp,
        )
    )
    parts.extend(lead_visits)

    packed = {name: np.concatenate([part[name] for part in parts]) for name in ("ts", "attrs", "who")}
    del parts
    order = time_order(packed["ts"] - history.t0)
    cols = _unpack(**{name: values[order] for name, values in packed.items()})
    del packed, order
    e = len(cols["ts"])
    cols["event"] = np.arange(1, e + 1, dtype=np.int64)
    cols["fmt"] = csvout.offset_formats(rng, e, 0.01)
    cols["source"] = _EVENT_SOURCE_OF[cols["chan"]].astype(np.int8)
    cols["medium"] = _EVENT_MEDIUM_OF[cols["chan"]].astype(np.int8)
    del cols["chan"]
    cols["dirty"] = np.zeros(e, dtype=np.int8)
    cols = spoil(
        rng,
        cols,
        (Dirt.DUPLICATE_KEY, Dirt.FUTURE_TIMESTAMP, Dirt.BAD_TIMESTAMP, Dirt.MISSING_IDENTITY),
        share,
        history=history,
        roles=Roles(ts="ts", customer="cust", anon="visitor"),
    )
    width = max(9, len(str(e)))
    select = (
        ("event_id", csvout.key("E", "event", width)),
        ("occurred_at", csvout.timestamp("ts", fmt="fmt")),
        ("event_type", "kind"),
        ("anonymous_id", anon.sql("visitor")),
        ("customer_id", csvout.key("C", "cust", id_width)),
        ("product_id", csvout.key("P", "product", 4)),
        ("utm_source", "source"),
        ("utm_medium", "medium"),
        ("utm_campaign", "camp"),
    )
    labels = {"kind": EVENT_TYPES, "source": EVENT_SOURCES, "medium": EVENT_MEDIUMS, "camp": EVENT_CAMPAIGNS}
    return Table("events.csv", cols, select, labels)


def draw_lead_visits(
    rng: np.random.Generator, leads: Leads, p: Products, v: Visitors, history: History
) -> list[dict[str, np.ndarray]]:
    """Leads' paid-ad visits: the anonymous session that ended in the form, then retargeting ads bringing
    them back - recognised by the form's cookie, so under their customer id - until they lose interest.
    Never a sign-up, a cart or an order."""
    n = leads.n
    wait = np.where(rng.random(n) < 0.6, rng.integers(120, 1_800, n), 300 + exponential_seconds(rng, 3, n))
    early = leads.captured - wait < history.t0
    start = np.where(early, history.t0 + (leads.captured - history.t0) // 4, leads.captured - wait)
    views = rng.integers(0, 4, n)
    capture = _sessions(
        rng,
        p,
        start,
        _any_category(rng, n),
        views,
        np.zeros(n, np.int64),
        (leads.captured - start) // (views + 2),
        visitor=v.of_lead,
        chan=leads.channel,
        camp=leads.campaign,
    )

    end = np.minimum(leads.interested_until, history.t_end - 1_200)
    span = np.maximum(end - leads.captured, 0)
    who = np.repeat(np.arange(n), rng.poisson(span / (_RETARGET_GAP_DAYS * DAY)))
    at = history.between(rng, leads.captured[who] + 1, end[who])
    same_ad = rng.random(len(who)) < 0.6
    chan = np.where(same_ad, leads.channel[who], draw_channels(rng, len(who), "lead"))
    camp = np.where(same_ad, leads.campaign[who], campaigns_for(rng, chan))
    revisits = _sessions(
        rng,
        p,
        at,
        _any_category(rng, len(who)),
        np.minimum(rng.poisson(1.2, len(who)), 4),
        np.zeros(len(who), np.int64),
        cust=leads.first + who,
        chan=chan,
        camp=camp,
    )
    return [capture, revisits]


def _order_funnels(
    rng: np.random.Generator, c: Customers, o: Orders, items: Items, tracked: float = 1.0
) -> dict[str, np.ndarray]:
    """Page view, product view and cart add per line, checkout start; all after sign-up, before the
    order. Free-sample orders are handed out, not checked out, and have no funnel. With `tracked` < 1 only
    that share of orders left a funnel (the rest came by phone or a marketplace): a stable pick by order
    number, which draws nothing, so the default shop is unchanged."""
    paid = np.flatnonzero(o.amount > 0)
    if tracked < 1.0:
        paid = paid[(paid * 2_654_435_761) % 10_000 < tracked * 10_000]
    size = 2 + 2 * o.n_lines[paid].astype(np.int64)
    j = np.repeat(paid, size)
    k = np.arange(len(j)) - np.repeat(np.cumsum(size) - size, size)
    room = (o.ts[paid] - c.signup[o.cust[paid]] - 1) // size
    step = np.maximum(0, np.minimum(rng.integers(20, 150, len(paid)), room))
    n_ev = np.repeat(size, size)
    ts = o.ts[j] - (n_ev - k) * np.repeat(step, size)
    line = np.clip((k - 1) // 2, 0, o.n_lines[j] - 1)
    kind = np.where(
        k == 0,
        PAGE_VIEW,
        np.where(k == n_ev - 1, CHECKOUT_START, np.where((k - 1) % 2 == 0, PRODUCT_VIEW, ADD_TO_CART)),
    )
    product = np.where((kind == PRODUCT_VIEW) | (kind == ADD_TO_CART), items.product[o.first_line[j] + line], NONE)
    return _events(ts, kind, cust=o.cust[j], product=product)


def _message_clicks(rng: np.random.Generator, c: Customers, o: Orders, ads: AdWindows) -> list[dict[str, np.ndarray]]:
    """Clicks on the shop's messages, only while advertising consent on that channel holds: some lead
    to a repeat order within two hours, others go nowhere."""
    out = []
    repeat = np.flatnonzero((o.nth > 0) & (rng.random(len(o.ts)) < 0.15))
    ch = rng.integers(0, len(MESSAGE_SOURCES), len(repeat))
    click = o.ts[repeat] - rng.integers(120, 2 * 3_600, len(repeat))
    who = o.cust[repeat]
    ok = (ads.start[who, ch] >= 0) & (ads.start[who, ch] <= click) & (click <= ads.end[who, ch])
    ok &= click > c.signup[who]
    out.append((who[ok], ch[ok], click[ok]))

    has = ads.start >= 0
    span = np.where(has, ads.end - ads.start, 0)
    count = np.where(has, rng.poisson(span / DAY / 500), 0)
    flat = np.repeat(np.arange(count.size), count.ravel())
    who, ch = np.divmod(flat, count.shape[1])
    click = ads.start[who, ch] + 1 + np.floor(rng.random(len(flat)) * span[who, ch]).astype(np.int64)
    out.append((who, ch, click))

    parts = []
    for who, ch, click in out:
        welcome = click - c.signup[who] < 14 * DAY
        later = _LATER_CAMPAIGNS[rng.integers(0, len(_LATER_CAMPAIGNS), len(who))]
        parts.append(_events(click, MESSAGE_CLICK, cust=who, chan=_CRM + ch, camp=np.where(welcome, _WELCOME, later)))
    return parts


def time_order(rel: np.ndarray) -> np.ndarray:
    """A stable ascending order of non-negative seconds below 2**32, by two 16-bit radix passes.

    numpy sorts 16-bit keys with a radix sort; two passes beat one comparison sort of int64 by about 2x
    on tens of millions of events.
    """
    if len(rel) and (rel.min() < 0 or rel.max() >= 2**32):
        raise ValueError("times must lie within 136 years of the history start")
    low = np.argsort((rel & 0xFFFF).astype(np.uint16), kind="stable")
    high = np.argsort((rel[low] >> 16).astype(np.uint16), kind="stable")
    return low[high]


def identities_table(
    rng: np.random.Generator,
    c: Customers,
    leads: Leads,
    v: Visitors,
    anon: AnonIds,
    history: History,
    share: float,
    id_width: int,
) -> Table:
    """Sign-ups who browsed anonymously before, and leads, linked when they signed up or sent the form."""
    linked = np.flatnonzero(v.of_customer >= 0)
    ts = np.concatenate([c.signup[linked], leads.captured])
    order = np.argsort(ts, kind="stable")
    cols = {
        "visitor": np.concatenate([v.of_customer[linked], v.of_lead]).astype(np.int64)[order],
        "cust": np.concatenate([linked, leads.first + np.arange(leads.n)])[order],
        "ts": ts[order],
        "dirty": np.zeros(len(ts), dtype=np.int8),
    }
    cols = spoil(rng, cols, (Dirt.BAD_TIMESTAMP,), share, history=history, roles=Roles(ts="ts"))
    select = (
        ("anonymous_id", anon.sql("visitor")),
        ("customer_id", csvout.key("C", "cust", id_width)),
        ("linked_at", csvout.timestamp("ts")),
    )
    return Table("identities.csv", cols, select)


def cs_chats_table(
    rng: np.random.Generator, c: Customers, o: Orders, history: History, share: float, id_width: int
) -> Table:
    """Chats follow orders (refunds and cancellations far more often); a few come before any order."""
    p_chat = np.array([0.04, 0.3, 0.5])[o.status]
    after = np.flatnonzero(rng.random(len(o.ts)) < p_chat)
    ts = o.ts[after] + rng.integers(1_800, 7 * DAY, len(after))
    status = o.status[after]
    topic = np.select(
        [status == 2, status == 1],
        [
            rng.choice(5, size=len(after), p=[0.2, 0.0, 0.8, 0.0, 0.0]),
            rng.choice(5, size=len(after), p=[0.0, 0.0, 0.5, 0.5, 0.0]),
        ],
        rng.choice(5, size=len(after), p=[0.45, 0.3, 0.0, 0.1, 0.15]),
    )
    never = np.flatnonzero((c.first_order < 0) & (rng.random(c.n) < 0.04))
    pre_ts = c.signup[never] + 60 + exponential_seconds(rng, 10, len(never))
    cust = np.concatenate([o.cust[after], never])
    ts = np.concatenate([ts, pre_ts])
    topic = np.concatenate([topic, rng.choice(5, size=len(never), p=[0.0, 0.7, 0.0, 0.1, 0.2])])
    keep = ts <= history.t_end
    cust, ts, topic = cust[keep], ts[keep], topic[keep]
    order = np.argsort(ts, kind="stable")
    cust, ts, topic = cust[order], ts[order], topic[order]
    m = len(ts)
    # Recent chats are more often still open.
    recent = ts > history.t_end - 3 * DAY
    resolved = rng.random(m) < np.where(recent, 0.5, 0.9)
    cols = {
        "chat": np.arange(1, m + 1),
        "cust": cust,
        "ts": ts,
        "topic": topic.astype(np.int8),
        "resolved": resolved,
        "dirty": np.zeros(m, dtype=np.int8),
    }
    cols = spoil(rng, cols, (Dirt.DUPLICATE_KEY, Dirt.FUTURE_TIMESTAMP), share, history=history, roles=Roles(ts="ts"))
    select = (
        ("chat_id", csvout.key("CS", "chat", 7)),
        ("customer_id", csvout.key("C", "cust", id_width)),
        ("started_at", csvout.timestamp("ts")),
        ("topic", "topic"),
        ("resolved", "CASE WHEN resolved THEN 'Y' ELSE 'N' END"),  # Korean back offices export Y/N
    )
    return Table("cs_chats.csv", cols, select, {"topic": CHAT_TOPICS})


def surveys_table(rng: np.random.Generator, o: Orders, history: History, share: float, id_width: int) -> Table:
    """A satisfaction survey a few days after some orders; happy customers answer more, scores skew high."""
    asked = np.flatnonzero((o.amount > 0) & (rng.random(len(o.ts)) < 0.1))
    ts = o.ts[asked] + rng.integers(3 * DAY, 14 * DAY, len(asked))
    keep = ts <= history.t_end
    asked, ts = asked[keep], ts[keep]
    order = np.argsort(ts, kind="stable")
    asked, ts = asked[order], ts[order]
    m = len(ts)
    refunded = o.status[asked] == 2
    score = np.where(
        refunded,
        rng.choice(np.arange(1, 6), size=m, p=[0.35, 0.3, 0.2, 0.1, 0.05]),
        rng.choice(np.arange(1, 6), size=m, p=[0.03, 0.04, 0.10, 0.28, 0.55]),
    )
    pick = np.floor(rng.random(m) * _COMMENT_COUNT[score - 1]).astype(np.int64)
    comment = np.where(rng.random(m) < 0.35, _COMMENT_START[score - 1] + pick, NONE)
    cols = {
        "response": np.arange(1, m + 1),
        "cust": o.cust[asked],
        "ts": ts,
        "score": score,
        "comment": comment.astype(np.int16),
        "dirty": np.zeros(m, dtype=np.int8),
    }
    cols = spoil(
        rng, cols, (Dirt.DUPLICATE_KEY, Dirt.SCORE_OUT_OF_RANGE), share, history=history, roles=Roles(score="score")
    )
    select = (
        ("response_id", csvout.key("SV", "response", 7)),
        ("customer_id", csvout.key("C", "cust", id_width)),
        ("responded_at", csvout.timestamp("ts")),
        ("score", "score"),
        ("comment", "comment"),
    )
    return Table("surveys.csv", cols, select, {"comment": COMMENTS})
