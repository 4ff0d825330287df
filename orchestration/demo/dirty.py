"""Deliberately broken rows, so the loader's quarantine has realistic work to do.

Every dirty row breaks exactly one rule and is marked in the table's ``dirty`` column with the code of
its kind, so the summary can count what was written instead of what was intended.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from orchestration.demo.clock import DAY, History


class Dirt(StrEnum):
    DUPLICATE_KEY = "duplicate_key"
    BAD_PHONE = "bad_phone"
    BAD_TIMESTAMP = "bad_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"
    NEGATIVE_AMOUNT = "negative_amount"
    UNKNOWN_CUSTOMER = "unknown_customer"
    MISSING_IDENTITY = "missing_identity"
    SCORE_OUT_OF_RANGE = "score_out_of_range"


CLEAN = 0
CODE: Mapping[Dirt, int] = {kind: i + 1 for i, kind in enumerate(Dirt)}
KIND_OF_CODE: Mapping[int, Dirt] = {code: kind for kind, code in CODE.items()}
# Duplicates are inserted at most this many rows after their original: a double submit or a re-export.
_DUPLICATE_REACH = 1_000


@dataclass(frozen=True)
class Roles:
    """Which raw columns a kind of dirt changes; None where the table has no such column."""

    ts: str | None = None
    amount: str | None = None
    customer: str | None = None
    anon: str | None = None
    score: str | None = None
    phone: str | None = None


def counts(n_rows: int, share: float, kinds: Sequence[Dirt]) -> dict[Dirt, int]:
    """About share * n_rows dirty rows split evenly, at least one per kind in a file of 100+ rows."""
    if share <= 0 or not kinds:
        return dict.fromkeys(kinds, 0)
    per_kind = round(share * n_rows / len(kinds))
    if n_rows >= 100:
        per_kind = max(1, per_kind)
    return dict.fromkeys(kinds, per_kind)


def spoil(
    rng: np.random.Generator,
    cols: dict[str, np.ndarray],
    kinds: Sequence[Dirt],
    share: float,
    *,
    history: History,
    roles: Roles,
    eligible: np.ndarray | None = None,
    n_customers: int = 0,
) -> dict[str, np.ndarray]:
    """Break rows in place (one kind per row) and insert duplicate lines; returns the new columns.

    ``eligible`` limits which rows may be broken in place: e.g. customers who never ordered, so a
    quarantined customer does not drag clean orders along with it.
    """
    dirty = cols["dirty"]
    n = len(dirty)
    plan = counts(n, share, kinds)
    base = np.ones(n, dtype=bool) if eligible is None else eligible.copy()
    for kind in kinds:
        if kind is Dirt.DUPLICATE_KEY or plan[kind] == 0:
            continue
        ok = base & (dirty == CLEAN)
        if kind is Dirt.NEGATIVE_AMOUNT:
            ok &= cols[_role(roles.amount)] > 0
        if kind is Dirt.BAD_PHONE:
            ok &= cols[_role(roles.phone)] >= 0
        rows = _pick(rng, ok, plan[kind])
        dirty[rows] = CODE[kind]
        _break(rng, kind, cols, rows, roles, history, n_customers)
    if plan.get(Dirt.DUPLICATE_KEY, 0):
        cols = _duplicate(rng, cols, plan[Dirt.DUPLICATE_KEY])
    return cols


def _role(name: str | None) -> str:
    if name is None:
        raise ValueError("this kind of dirt needs a column role the table does not declare")
    return name


def _pick(rng: np.random.Generator, ok: np.ndarray, k: int) -> np.ndarray:
    candidates = np.flatnonzero(ok)
    k = min(k, len(candidates))
    return np.sort(rng.choice(candidates, size=k, replace=False))


def _break(
    rng: np.random.Generator,
    kind: Dirt,
    cols: dict[str, np.ndarray],
    rows: np.ndarray,
    roles: Roles,
    history: History,
    n_customers: int,
) -> None:
    k = len(rows)
    if kind is Dirt.FUTURE_TIMESTAMP:
        # Months to years ahead: a mistyped year or a clock set wrong, never "just after midnight".
        ahead = rng.integers(60, 1_500, k) * DAY + rng.integers(0, DAY, k)
        _set(cols, _role(roles.ts), rows, history.t_end + ahead)
    elif kind is Dirt.NEGATIVE_AMOUNT:
        _set(cols, _role(roles.amount), rows, -cols[_role(roles.amount)][rows])
    elif kind is Dirt.UNKNOWN_CUSTOMER:
        # Ids above every real one: customers deleted from the shop's export but not from orders.
        _set(cols, _role(roles.customer), rows, n_customers + rng.integers(0, n_customers + 1, k))
    elif kind is Dirt.MISSING_IDENTITY:
        _set(cols, _role(roles.customer), rows, -1)
        _set(cols, _role(roles.anon), rows, -1)
    elif kind is Dirt.SCORE_OUT_OF_RANGE:
        # 0 and 10: answers typed on an NPS scale instead of the 1-5 one.
        _set(cols, _role(roles.score), rows, rng.choice(np.array([0, 10]), size=k))
    # BAD_PHONE and BAD_TIMESTAMP change only the text: the SQL renders the garbage from the code.


def _set(cols: dict[str, np.ndarray], name: str, rows: np.ndarray, values: np.ndarray | int) -> None:
    """Copy before writing: the caller's arrays are shared with the models other tables read."""
    column = cols[name].copy()
    column[rows] = values
    cols[name] = column


def _duplicate(rng: np.random.Generator, cols: dict[str, np.ndarray], k: int) -> dict[str, np.ndarray]:
    dirty = cols["dirty"]
    n = len(dirty)
    sources = _pick(rng, dirty[:-1] == CLEAN, k) if n > 1 else np.zeros(0, dtype=np.int64)
    reach = np.minimum(n - sources, _DUPLICATE_REACH)
    at = sources + 1 + np.floor(rng.random(len(sources)) * reach).astype(np.int64)
    # One placement for all columns: copy j lands before original row at[j] (ties keep source order).
    order = np.argsort(at, kind="stable")
    placed = at[order] + np.arange(len(at))
    copied = sources[order]
    is_copy = np.zeros(n + len(at), dtype=bool)
    is_copy[placed] = True
    out = {}
    for name, values in cols.items():
        column = np.empty(n + len(at), dtype=values.dtype)
        column[~is_copy] = values
        column[placed] = values[copied]
        out[name] = column
    out["dirty"][placed] = CODE[Dirt.DUPLICATE_KEY]
    return out
