"""The catalogue and what customers buy from it: orders and their lines.

Buying follows a simple BG/NBD-like story per customer: orders come roughly every ``cycle_days``
(replenishment), and after each order the customer drops out for good with probability ``churn``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestration.demo import csvout
from orchestration.demo.catalog import CATEGORIES, HIGH_PRICE, ITEMS, LINES, SAMPLE_ITEM
from orchestration.demo.clock import DAY, HOUR, History
from orchestration.demo.csvout import NONE, Table
from orchestration.demo.dirty import Dirt, Roles, spoil
from orchestration.demo.people import Customers

STATUSES: tuple[str, ...] = ("paid", "cancelled", "refunded")
_CATEGORY_NAMES = tuple(name for name, _, _ in CATEGORIES)
_MAX_LINES = 5


@dataclass(frozen=True)
class Products:
    """Products in product_id order (grouped by category)."""

    names: tuple[str, ...]
    category: np.ndarray  # int8 index into CATEGORIES
    price: np.ndarray  # int64 KRW
    replenishment_days: np.ndarray  # int16, NONE when not replenishable
    weight: np.ndarray  # float64 popularity, 0 for the free sample
    sample: int  # index of the free sample product

    @property
    def high_priced(self) -> np.ndarray:
        return np.flatnonzero(self.price >= HIGH_PRICE)

    def draw(self, rng: np.random.Generator, category: np.ndarray) -> np.ndarray:
        """One product per requested category, by popularity (vectorised over categories).

        Cumulative weights run from c to c + 1 inside category c, so one searchsorted finds the
        product for every row at once.
        """
        cum = np.zeros(len(self.weight))
        last = np.zeros(len(CATEGORIES), dtype=np.int64)
        for c in range(len(CATEGORIES)):
            inside = np.flatnonzero(self.category == c)
            w = np.cumsum(self.weight[inside])
            cum[inside] = c + w / w[-1]
            last[c] = inside[-1]
        picked = np.searchsorted(cum, category + rng.random(len(category)), side="right")
        return np.minimum(picked, last[category]).astype(np.int16)  # guards c + u rounding up to c + 1


def draw_products(rng: np.random.Generator) -> Products:
    """Every item once in a random line, plus extra line variants of everyday items: 70 to 110 in all."""
    used = np.zeros((len(ITEMS), len(LINES)), dtype=bool)
    used[np.arange(len(ITEMS)), rng.integers(0, len(LINES), len(ITEMS))] = True
    everyday = np.array([price < HIGH_PRICE for _, _, price in ITEMS])
    variants = np.argwhere(~used & everyday[:, None])
    extra = variants[rng.choice(len(variants), size=int(rng.integers(9, 50)), replace=False)]
    used[extra[:, 0], extra[:, 1]] = True

    names: list[str] = []
    category: list[int] = []
    price: list[int] = []
    for item, line in np.argwhere(used):
        cat, name, base = ITEMS[item]
        line_name, factor = LINES[line]
        names.append(f"{line_name} {name}")
        category.append(_CATEGORY_NAMES.index(cat))
        # Shop prices end in 900 (19,900); everyday items stay within 9,900-89,000.
        p = base if base >= HIGH_PRICE else min(89_000, max(9_900, round(base * factor / 1000) * 1000 - 100))
        price.append(p)
    sample_cat, sample_name, sample_price = SAMPLE_ITEM
    names.append(sample_name)
    category.append(_CATEGORY_NAMES.index(sample_cat))
    price.append(sample_price)

    order = np.argsort(np.array(category), kind="stable")  # by category; the sample ends its block
    cat = np.array(category, dtype=np.int8)[order]
    prices = np.array(price, dtype=np.int64)[order]
    names_sorted = tuple(names[i] for i in order)
    sample = int(np.flatnonzero(order == len(names) - 1)[0])

    cycle = np.array([days or 0 for _, days, _ in CATEGORIES])[cat]
    jitter = rng.uniform(0.85, 1.2, len(cat))
    replenish = np.where((cycle > 0) & (prices < HIGH_PRICE), np.round(cycle * jitter), NONE).astype(np.int16)
    replenish[sample] = NONE

    weight = np.zeros(len(cat))
    for c in range(len(CATEGORIES)):
        inside = np.flatnonzero(cat == c)
        rank = rng.permutation(len(inside))
        weight[inside] = 1.0 / (rank + 1.0) ** 0.8
    weight[prices >= HIGH_PRICE] *= 0.15
    weight[sample] = 0.0
    return Products(names_sorted, cat, prices, replenish, weight, sample)


def products_table(rng: np.random.Generator, p: Products, history: History, share: float) -> Table:
    n = len(p.names)
    cols = {
        "product": np.arange(n),
        "name": np.arange(n),
        "category": p.category,
        "price": p.price,
        "replenish": p.replenishment_days,
        "dirty": np.zeros(n, dtype=np.int8),
    }
    cols = spoil(rng, cols, (Dirt.DUPLICATE_KEY,), share, history=history, roles=Roles())
    select = (
        ("product_id", csvout.key("P", "product", 4)),
        ("name", "name"),
        ("category", "category"),
        ("price", "price"),
        ("replenishment_days", "CASE WHEN replenish > 0 THEN replenish END"),
    )
    return Table("products.csv", cols, select, {"name": p.names, "category": _CATEGORY_NAMES})


@dataclass(frozen=True)
class Orders:
    """Orders in time order; lines of order i are items[first_line[i] : first_line[i] + n_lines[i]]."""

    ts: np.ndarray  # int64
    cust: np.ndarray  # int64 customer index
    nth: np.ndarray  # int32: 0 for the customer's first order
    status: np.ndarray  # int8 index into STATUSES
    amount: np.ndarray  # int64 KRW, the sum of its lines
    first_line: np.ndarray  # int64
    n_lines: np.ndarray  # int8


@dataclass(frozen=True)
class Items:
    order: np.ndarray  # int64 index into Orders
    line_no: np.ndarray  # int8, 1-based
    product: np.ndarray  # int16
    quantity: np.ndarray  # int8
    unit_price: np.ndarray  # int64


def draw_orders(rng: np.random.Generator, c: Customers, p: Products, history: History) -> tuple[Orders, Items]:
    ts, cust, nth = _order_times(rng, c, history)
    order = np.argsort(ts, kind="stable")
    ts, cust, nth = ts[order], cust[order], nth[order]
    m = len(ts)
    status = rng.choice(3, size=m, p=[0.95, 0.03, 0.02]).astype(np.int8)
    free = rng.random(m) < 0.003  # free-sample orders: one line, amount 0
    n_lines = np.where(free, 1, rng.choice(np.arange(1, _MAX_LINES + 1), size=m, p=[0.55, 0.27, 0.12, 0.04, 0.02]))
    first_line = (np.cumsum(n_lines) - n_lines).astype(np.int64)
    items = _draw_lines(rng, c, p, cust, nth, free, first_line, n_lines.astype(np.int8))
    amount = np.add.reduceat(items.quantity.astype(np.int64) * items.unit_price, first_line) if m else np.zeros(0)
    orders = Orders(
        ts, cust, nth.astype(np.int32), status, amount.astype(np.int64), first_line, n_lines.astype(np.int8)
    )
    return orders, items


def _order_times(rng: np.random.Generator, c: Customers, history: History) -> tuple[np.ndarray, ...]:
    """Each buyer's orders: the first one, then every cycle (with noise) until they drop out."""
    buyers = np.flatnonzero(c.first_order >= 0)
    # More orders than could fit before the end (gaps rarely shrink below 0.3 cycles) are never drawn.
    remaining_days = (history.t_end - c.first_order[buyers]) / DAY
    cap = np.floor(remaining_days / (0.3 * c.cycle_days[buyers])).astype(np.int64) + 1
    k = np.minimum(rng.geometric(c.churn[buyers]), cap)
    cust = np.repeat(buyers, k)
    start = np.repeat(np.cumsum(k) - k, k)
    nth = np.arange(len(cust)) - start
    gap = np.maximum(1, np.round(c.cycle_days[cust] * rng.lognormal(0.0, 0.3, len(cust)))).astype(np.int64)
    gap[nth == 0] = 0
    csum = np.cumsum(gap)
    day_offset = csum - np.repeat(csum[np.cumsum(k) - k], k)
    first = c.first_order[cust]
    ts = np.where(
        nth == 0,
        first,
        history.day_start(first) + day_offset * DAY + history.time_of_day(rng, len(cust)),
    )
    keep = ts <= history.t_end
    ts, cust, nth = ts[keep], cust[keep], nth[keep]
    # Now and then a second order the same day: something forgotten in the first basket.
    again = np.flatnonzero(rng.random(len(ts)) < 0.015)
    later = ts[again] + rng.integers(10 * 60, 4 * HOUR, len(again))
    ok = (later < history.day_start(ts[again]) + DAY) & (later <= history.t_end)
    return (
        np.concatenate([ts, later[ok]]),
        np.concatenate([cust, cust[again[ok]]]),
        np.concatenate([nth, nth[again[ok]] + 1]),
    )


def _draw_lines(
    rng: np.random.Generator,
    c: Customers,
    p: Products,
    cust: np.ndarray,
    nth: np.ndarray,
    free: np.ndarray,
    first_line: np.ndarray,
    n_lines: np.ndarray,
) -> Items:
    """Lines: mostly the customer's hero product first (replenishment), the rest from the favourite
    category or anything popular; no product twice in one order."""
    hero = p.draw(rng, c.favourite.astype(np.int64))
    total = int(n_lines.sum())
    order = np.repeat(np.arange(len(cust)), n_lines)
    line = np.arange(total) - np.repeat(first_line, n_lines)
    owner = cust[order]
    cat_share = np.array([share for _, _, share in CATEGORIES])
    any_cat = rng.choice(len(CATEGORIES), size=total, p=cat_share / cat_share.sum())
    in_fav = rng.random(total) < np.where(line == 0, 0.7, 0.4)
    product = p.draw(rng, np.where(in_fav, c.favourite[owner], any_cat))
    use_hero = (line == 0) & (rng.random(total) < np.where(nth[order] == 0, 0.7, 0.6))
    product = np.where(use_hero, hero[owner], product)
    for _ in range(4):
        dup = np.zeros(total, dtype=bool)
        for back in range(1, _MAX_LINES):
            prev = np.arange(total) - back
            same = (line >= back) & (product == product[np.maximum(prev, 0)])
            dup |= same
        if not dup.any():
            break
        product[dup] = p.draw(rng, any_cat[dup])
    product = np.where(free[order], p.sample, product).astype(np.int16)

    quantity = rng.choice(np.array([1, 2, 3], dtype=np.int8), size=total, p=[0.85, 0.12, 0.03])
    quantity[free[order]] = 1
    price = p.price[product]
    # Member coupons: 10% or 20% off, rounded to 10 won.
    discount = rng.choice(np.array([1.0, 0.9, 0.8]), size=total, p=[0.88, 0.08, 0.04])
    unit_price = (np.round(price * discount / 10) * 10).astype(np.int64)
    return Items(order, (line + 1).astype(np.int8), product, quantity, unit_price)


def _order_numbers(o: Orders, history: History) -> tuple[np.ndarray, np.ndarray]:
    """Order numbers as Korean shop platforms print them, yyyymmdd-nnnnnnn (numbered within the day),
    as the two integers (yyyymmdd, n)."""
    day = history.day_index(o.ts)
    seq = np.arange(len(o.ts)) - np.searchsorted(day, day, side="left") + 1
    return history.yyyymmdd(o.ts), seq


_ORDER_ID_SQL = "CAST(ymd AS VARCHAR) || '-' || lpad(CAST(seq AS VARCHAR), 7, '0')"


def orders_table(
    rng: np.random.Generator, o: Orders, history: History, share: float, n_customers: int, id_width: int
) -> Table:
    m = len(o.ts)
    ymd, seq = _order_numbers(o, history)
    status = o.status.copy()
    status[(status == 0) & (rng.random(m) < 0.03)] = NONE  # empty status means paid
    cols = {
        "ymd": ymd,
        "seq": seq,
        "cust": o.cust,
        "ts": o.ts,
        "fmt": csvout.offset_formats(rng, m, 0.02),
        "amount": o.amount,
        "status": status,
        "dirty": np.zeros(m, dtype=np.int8),
    }
    cols = spoil(
        rng,
        cols,
        (Dirt.DUPLICATE_KEY, Dirt.NEGATIVE_AMOUNT, Dirt.FUTURE_TIMESTAMP, Dirt.UNKNOWN_CUSTOMER, Dirt.BAD_TIMESTAMP),
        share,
        history=history,
        roles=Roles(ts="ts", amount="amount", customer="cust"),
        n_customers=n_customers,
    )
    select = (
        ("order_id", _ORDER_ID_SQL),
        ("customer_id", csvout.key("C", "cust", id_width)),
        ("ordered_at", csvout.timestamp("ts", fmt="fmt")),
        ("amount", "amount"),
        ("status", "status"),
    )
    return Table("orders.csv", cols, select, {"status": STATUSES})


def order_items_table(rng: np.random.Generator, o: Orders, items: Items, history: History, share: float) -> Table:
    ymd, seq = _order_numbers(o, history)
    n = len(items.order)
    cols = {
        "ymd": ymd[items.order],
        "seq": seq[items.order],
        "line_no": items.line_no,
        "product": items.product,
        "quantity": items.quantity,
        "unit_price": items.unit_price,
        "dirty": np.zeros(n, dtype=np.int8),
    }
    cols = spoil(rng, cols, (Dirt.DUPLICATE_KEY,), share, history=history, roles=Roles())
    select = (
        ("order_id", _ORDER_ID_SQL),
        ("line_no", "line_no"),
        ("product_id", csvout.key("P", "product", 4)),
        ("quantity", "quantity"),
        ("unit_price", "unit_price"),
    )
    return Table("order_items.csv", cols, select)
