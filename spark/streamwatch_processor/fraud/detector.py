"""Vectorised fraud detection over one bucket of cards.

:func:`detect` takes the bucket's state and the micro-batch's new transactions
and returns the alerts and the new state. Every new transaction is judged
against the card's history as it stood just before that transaction, in
event-time order, so the alerts do not depend on where micro-batch boundaries
fall: a replay after a crash, a run with another trigger interval and an
uninterrupted run produce the same alert ids.

Hot paths are numpy over the whole bucket: rows are sorted by
``(card, event time, txn_id)`` and a combined key ``card_code * 2**41 + ts``
turns "rows of this card in the last W seconds" into one ``searchsorted``,
and "how many of them match" into a difference of cumulative sums. Only the
few rows that fire go through a Python loop (cooldown, alert building).

Per-card history is forgotten when a card stays silent for longer than the
state TTL (``ttl_ms``); a card that comes back after that starts afresh.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from streamwatch.events import alert_id, format_epoch_ms
from streamwatch_processor.fraud.rules import Rule, RuleSet
from streamwatch_processor.fraud.state import (
    ALERT_TS,
    CARD_COLUMNS,
    NEVER,
    RECENT_COLUMNS,
    SALT_COUNTRY,
    SALT_DEVICE,
    SEEN_COLUMNS,
    TXN_COLUMNS,
    BucketState,
    pair_key,
)

_SHIFT = np.int64(1 << 41)  # > any event-time span (ms) plus window: ~69 years
_EARTH_RADIUS_KM = 6371.0088


@dataclass
class _Frame:
    """The bucket's prior + new transactions, sorted, with the arrays the rules share."""

    df: pd.DataFrame
    is_new: np.ndarray
    code: np.ndarray
    key: np.ndarray
    ts: np.ndarray
    amount: np.ndarray
    #: history segment: a card's rows split where it was silent for longer than the TTL
    seg: np.ndarray
    #: row lies in the card's first segment here, i.e. the state's history still applies
    in_first: np.ndarray

    def window_start(self, window_ms: int) -> np.ndarray:
        """Index of the first row of the same card with ts > ts_i - window (per row)."""
        return np.searchsorted(self.key, self.key - np.int64(window_ms), side="right")

    @staticmethod
    def count(mask: np.ndarray, start: np.ndarray) -> np.ndarray:
        """Rows matching ``mask`` in ``[start_i, i]`` for every row i."""
        cum = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
        return cum[np.arange(1, len(mask) + 1)] - cum[start]


@dataclass(frozen=True)
class Candidate:
    pos: int
    rule: str
    first: int  # frame position of the alert's first transaction
    txn_positions: tuple[int, ...]
    score: float
    reason: str


def _haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray,
                  lon2: np.ndarray) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _score(observed: float, threshold: float) -> float:
    """0.5 at the threshold, approaching 1 as the observation exceeds it."""
    if threshold <= 0 or not math.isfinite(observed):
        return 0.99
    return round(min(0.99, 1.0 - 0.5 * threshold / max(observed, threshold)), 4)


def _build_frame(state: BucketState, new: pd.DataFrame, ttl_ms: int) -> _Frame:
    prior = state.recent.assign(_new=False)
    df = pd.concat([prior, new[list(TXN_COLUMNS)].assign(_new=True)], ignore_index=True)
    code0 = df["card"].to_numpy(dtype=np.int64)
    ts0 = df["ts"].to_numpy(dtype=np.int64)
    order = np.lexsort((ts0, code0))
    c, t = code0[order], ts0[order]
    if np.any((c[1:] == c[:-1]) & (t[1:] == t[:-1])):
        # same card, same millisecond: break the tie by txn_id, as any replay will
        txn = df["txn_id"].to_numpy()
        order = np.lexsort((txn, ts0, code0))
    df = df.iloc[order].reset_index(drop=True)
    code_sorted = code0[order]
    change = np.ones(len(df), dtype=bool)
    change[1:] = code_sorted[1:] != code_sorted[:-1]
    code = np.cumsum(change, dtype=np.int64)
    ts = df["ts"].to_numpy(dtype=np.int64)
    base = ts.min() if len(ts) else 0
    key = code * _SHIFT + (ts - base)
    reset = np.zeros(len(df), dtype=bool)
    reset[1:] = ~change[1:] & (ts[1:] - ts[:-1] > ttl_ms)
    resets = np.cumsum(reset)
    starts = np.flatnonzero(change)
    at_card_start = resets[starts][np.cumsum(change) - 1]
    return _Frame(df, df["_new"].to_numpy(dtype=bool), code, key, ts,
                  df["amount"].to_numpy(dtype=np.float64),
                  np.cumsum(change | reset), resets == at_card_start)


def _windowed_count_rule(f: _Frame, rule: Rule, mask: np.ndarray, what: str) -> list[Candidate]:
    window_ms = int(rule.p("window_s") * 1000)
    start = f.window_start(window_ms)
    n = f.count(mask, start)
    fire = np.flatnonzero(f.is_new & mask & (n >= rule.p("min_count")))
    out = []
    for i in fire:
        members = tuple(int(j) for j in range(start[i], i + 1) if mask[j])
        out.append(Candidate(
            int(i), rule.name, members[0], members, _score(len(members), rule.p("min_count")),
            f"{len(members)} {what} in {rule.p('window_s'):g} s"))
    return out


def _card_testing(f: _Frame, rule: Rule) -> list[Candidate]:
    limit = rule.p("max_amount")
    return _windowed_count_rule(f, rule, f.amount <= limit + 1e-9,
                                f"transactions at or under {limit:.2f} USD")


def _velocity(f: _Frame, rule: Rule) -> list[Candidate]:
    floor = rule.p("min_amount")
    return _windowed_count_rule(f, rule, f.amount >= floor - 1e-9,
                                f"transactions of {floor:.2f} USD or more")


def _impossible_travel(f: _Frame, rule: Rule) -> list[Candidate]:
    idx = np.flatnonzero(f.df["present"].to_numpy(dtype=bool))
    if len(idx) < 2:
        return []
    cur, prev = idx[1:], idx[:-1]
    same = f.code[cur] == f.code[prev]
    cur, prev = cur[same & f.is_new[cur]], prev[same & f.is_new[cur]]
    if len(cur) == 0:
        return []
    lat, lon = f.df["lat"].to_numpy(), f.df["lon"].to_numpy()
    dist = _haversine_km(lat[prev], lon[prev], lat[cur], lon[cur])
    hours = (f.ts[cur] - f.ts[prev]) / 3_600_000.0
    with np.errstate(divide="ignore", invalid="ignore"):
        speed = np.where(hours > 0, dist / np.where(hours > 0, hours, 1), np.inf)
    ok = (dist >= rule.p("min_distance_km")) & (speed >= rule.p("max_speed_kmh"))
    if rule.p("require_country_change"):
        country = f.df["country"].to_numpy()
        ok &= country[cur] != country[prev]
    out = []
    country = f.df["country"].to_numpy()
    for c, p, d, s in zip(cur[ok], prev[ok], dist[ok], speed[ok], strict=True):
        minutes = (f.ts[c] - f.ts[p]) / 60_000.0
        out.append(Candidate(
            int(c), rule.name, int(p), (int(p), int(c)), _score(s, rule.p("max_speed_kmh")),
            f"{country[p]} to {country[c]}: {d:.0f} km in {minutes:.0f} min "
            f"({min(s, 1e6):.0f} km/h)"))
    return out


def _normalised(f: _Frame, typical: dict[str, float]) -> np.ndarray:
    ref = f.df["merchant_category"].map(typical).to_numpy(dtype=np.float64, na_value=np.nan)
    return f.amount / ref


def _history(f: _Frame, prof: pd.DataFrame, norm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: count and sum of the card's normalised amounts before that row."""
    cards = f.df["card"]
    n0 = np.where(f.in_first, cards.map(prof["n_norm"]).fillna(0).to_numpy(dtype=np.int64), 0)
    s0 = np.where(f.in_first, cards.map(prof["sum_norm"]).fillna(0.0).to_numpy(), 0.0)
    counted = f.is_new & np.isfinite(norm)
    vals = np.where(counted, norm, 0.0)
    n_before = pd.Series(counted.astype(np.int64)).groupby(f.seg).cumsum().to_numpy() - counted
    s_before = pd.Series(vals).groupby(f.seg).cumsum().to_numpy() - vals
    return n0 + n_before, s0 + s_before


def _amount_spike(f: _Frame, rule: Rule, n_before: np.ndarray, s_before: np.ndarray,
                  norm: np.ndarray) -> list[Candidate]:
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(n_before > 0, s_before / np.maximum(n_before, 1), np.nan)
        ratio_card = norm / mean
    by_category = norm >= rule.p("category_ratio")
    by_card = (n_before >= rule.p("min_history")) & (ratio_card >= rule.p("multiplier"))
    fire = np.flatnonzero(f.is_new & (f.amount >= rule.p("min_amount")) & (by_category | by_card))
    cat = f.df["merchant_category"].to_numpy()
    out = []
    for i in fire:
        if by_card[i]:
            why = f"{ratio_card[i]:.1f}x the card's usual amount"
            score = _score(ratio_card[i], rule.p("multiplier"))
        else:
            why = f"{norm[i]:.1f}x a typical {cat[i]} purchase"
            score = _score(norm[i], rule.p("category_ratio"))
        out.append(Candidate(int(i), rule.name, int(i), (int(i),), score,
                             f"{f.amount[i]:.2f} USD in {cat[i]}, {why}"))
    return out


def _pair_keys(f: _Frame, column: str, salt: np.uint64) -> np.ndarray:
    values = f.df[column].fillna(0).to_numpy(dtype=np.int64)
    return pair_key(f.df["card"].to_numpy(dtype=np.int64), values, salt)


def _novel(f: _Frame, state: BucketState, column: str, salt: np.uint64) -> np.ndarray:
    """New rows whose ``column`` value the card has never used before (in state or earlier)."""
    values = f.df[column].fillna(0).to_numpy(dtype=np.int64)
    keys = _pair_keys(f, column, salt)
    in_state = np.isin(keys, state.seen["key"].to_numpy(dtype=np.int64))
    earlier = pd.Series(np.where(f.is_new, keys, 0)).duplicated(keep="first").to_numpy()
    return f.is_new & (values != 0) & ~in_state & ~earlier


@dataclass
class _Takeover:
    candidates: list[Candidate]
    probe: np.ndarray  # rows that are probes (new device, new country, established card)
    probe_txn: np.ndarray  # per row: txn id of the card's last probe (possibly older batch)


def _account_takeover(f: _Frame, rule: Rule, state: BucketState, prof: pd.DataFrame,
                      n_before_all: np.ndarray) -> _Takeover:
    new_device = _novel(f, state, "device_h", SALT_DEVICE)
    probe = new_device & (n_before_all >= rule.p("min_history"))
    if rule.p("require_new_country"):
        probe &= _novel(f, state, "country_h", SALT_COUNTRY)
    pos = np.arange(len(f.df))
    last = np.maximum.accumulate(np.where(probe, pos, -1))
    in_card = (last >= 0) & (f.code[np.maximum(last, 0)] == f.code)
    devices = f.df["device_h"].fillna(0).to_numpy(dtype=np.int64)
    names = f.df["device_id"].to_numpy()
    txns = f.df["txn_id"].to_numpy()
    # a probe from an earlier micro-batch is remembered in the card table
    cards = f.df["card"]
    old_ts = cards.map(prof["probe_ts"]).fillna(NEVER).to_numpy(dtype=np.int64)
    old_dev = cards.map(prof["probe_device"]).fillna(0).to_numpy(dtype=np.int64)
    old_txn = cards.map(prof["probe_txn"]).to_numpy()
    probe_ts = np.where(in_card, f.ts[np.maximum(last, 0)], old_ts)
    probe_dev = np.where(in_card, devices[np.maximum(last, 0)], old_dev)
    probe_txn = np.where(in_card, txns[np.maximum(last, 0)], old_txn)
    window_ms = rule.p("window_s") * 1000
    fire = np.flatnonzero(
        f.is_new & (f.amount >= rule.p("min_amount")) & (probe_ts > NEVER)
        & (f.ts - probe_ts <= window_ms) & (devices == probe_dev) & (devices != 0))
    out = []
    for i in fire:
        first = int(last[i]) if in_card[i] else -1
        minutes = (f.ts[i] - probe_ts[i]) / 60_000.0
        positions = (first, int(i)) if first >= 0 and first != i else (int(i),)
        out.append(Candidate(
            int(i), rule.name, first, positions,
            _score(f.amount[i], rule.p("min_amount")),
            f"{f.amount[i]:.2f} USD from new device {names[i]} "
            f"{minutes:.0f} min after its first use in {f.df['country'].iloc[i]}"))
    return _Takeover(out, probe, np.asarray(probe_txn, dtype=object))


def detect(state: BucketState, new: pd.DataFrame, rules: RuleSet, *, ttl_ms: int,
           detected_at_ms: int) -> tuple[list[dict[str, Any]], BucketState]:
    """Alerts for the new transactions of one bucket, and the bucket's next state.

    Only the cards present in ``new`` are worked on; the rest of the bucket's
    tables is carried over untouched, so a batch costs what its cards cost.
    """
    new = new.drop_duplicates("txn_id")
    batch_cards = pd.unique(new["card"])
    touched, rest = state.split(batch_cards)
    new = new[~new["txn_id"].isin(touched.recent["txn_id"])]
    if new.empty:
        return [], state
    # a card silent for longer than the TTL starts afresh, whenever its state was evicted
    first_ts = new.groupby("card")["ts"].min()
    last_ts = touched.cards.set_index("card")["last_ts"]
    gap = first_ts.sub(last_ts.reindex(first_ts.index)).dropna()
    touched.drop_cards(gap.index[gap > ttl_ms])

    f = _build_frame(touched, new, ttl_ms)
    active = rules.enabled()
    spike = active.get("amount_spike")
    typical = spike.p("category_typical_usd") if spike else {}
    norm = _normalised(f, typical) if typical else np.full(len(f.df), np.nan)
    prof = touched.cards.set_index("card")
    n_before, s_before = _history(f, prof, norm)
    # transactions seen before each row (any category), for "established card" checks
    seen_n = np.where(f.in_first, f.df["card"].map(prof["n_txns"]).fillna(0).to_numpy(), 0)
    n_all = (seen_n.astype(np.int64)
             + pd.Series(f.is_new.astype(np.int64)).groupby(f.seg).cumsum().to_numpy()
             - f.is_new)

    candidates: list[Candidate] = []
    probe_txn = np.full(len(f.df), None, dtype=object)
    probe = np.zeros(len(f.df), dtype=bool)
    if "card_testing" in active:
        candidates += _card_testing(f, active["card_testing"])
    if "velocity" in active:
        candidates += _velocity(f, active["velocity"])
    if "impossible_travel" in active:
        candidates += _impossible_travel(f, active["impossible_travel"])
    if spike:
        candidates += _amount_spike(f, spike, n_before, s_before, norm)
    if "account_takeover" in active:
        ato = _account_takeover(f, active["account_takeover"], touched, prof, n_all)
        candidates += ato.candidates
        probe, probe_txn = ato.probe, ato.probe_txn

    alerts, alert_ts = _apply_cooldown(f, prof, active, candidates, probe_txn, detected_at_ms)
    updated = _next_state(f, touched, prof, rules, norm, probe, alert_ts)
    out = BucketState.merge(rest, updated)
    # TTL: a card silent for longer than the TTL (in event time) is dropped
    now = int(out.cards["last_ts"].max())
    expired = out.cards.loc[out.cards["last_ts"] < now - ttl_ms, "card"]
    out.drop_cards(expired.to_numpy())
    return alerts, out


def _apply_cooldown(f: _Frame, prof: pd.DataFrame, active: dict[str, Rule],
                    candidates: list[Candidate], probe_txn: np.ndarray,
                    detected_at_ms: int) -> tuple[list[dict[str, Any]], dict[tuple[str, str], int]]:
    last_alert: dict[tuple[str, str], int] = {}
    alerts: list[dict[str, Any]] = []
    cards = f.df["card"].to_numpy()
    card_ids = f.df["card_id"].to_numpy()
    txns = f.df["txn_id"].to_numpy()
    detected_at = format_epoch_ms(detected_at_ms)
    for c in sorted(candidates, key=lambda c: (c.pos, c.rule)):
        card, rule = cards[c.pos], active[c.rule]
        k = (c.rule, int(card))
        if k not in last_alert:
            prev = prof[ALERT_TS[c.rule]].get(card, NEVER) if len(prof) else NEVER
            last_alert[k] = int(prev)
        if f.ts[c.pos] - last_alert[k] < rule.cooldown_s * 1000:
            continue
        last_alert[k] = int(f.ts[c.pos])
        ids = [str(txns[p]) for p in c.txn_positions]
        if c.first < 0:  # the first transaction lies in an earlier batch (ATO probe)
            ids = [str(probe_txn[c.pos]), *ids]
        alerts.append({
            "alert_id": alert_id(c.rule, card_ids[c.pos], ids[0]), "rule": c.rule,
            "severity": rule.severity, "score": c.score, "card_id": card_ids[c.pos],
            "txn_ids": ids,
            "event_time": format_epoch_ms(int(f.ts[c.pos])), "detected_at": detected_at,
            "reason": c.reason,
        })
    return alerts, last_alert


def _next_state(f: _Frame, state: BucketState, prof: pd.DataFrame, rules: RuleSet,
                norm: np.ndarray, probe: np.ndarray,
                alert_ts: dict[tuple[str, int], int]) -> BucketState:
    df = f.df
    new = df[f.is_new]
    counted = f.is_new & np.isfinite(norm)
    # only the card's last history segment counts; if that is not its first one here,
    # the card was silent for longer than the TTL within this batch and starts afresh
    last_seg = pd.Series(f.seg).groupby(f.code).transform("max").to_numpy()
    in_last = f.seg == last_seg
    rows = pd.DataFrame({
        "card": df["card"].to_numpy(dtype=np.int64), "ts": f.ts,
        "n": (counted & in_last).astype(np.int64), "s": np.where(counted & in_last, norm, 0.0),
        "k": (f.is_new & in_last).astype(np.int64), "fresh": ~f.in_first,
    })[f.is_new]
    agg = rows.groupby("card").agg(last_ts=("ts", "max"), n=("n", "sum"), s=("s", "sum"),
                                   k=("k", "sum"), fresh=("fresh", "any"))
    cards = prof.reindex(prof.index.union(agg.index))
    a = agg.reindex(cards.index)
    keep_old = ~a["fresh"].fillna(False).to_numpy(dtype=bool)
    cards["last_ts"] = np.fmax(cards["last_ts"].to_numpy(dtype=np.float64),
                               a["last_ts"].to_numpy(dtype=np.float64))
    for col, src in (("n_norm", "n"), ("sum_norm", "s"), ("n_txns", "k")):
        old = cards[col].fillna(0).to_numpy(dtype=np.float64)
        cards[col] = np.where(keep_old, old, 0.0) + a[src].fillna(0).to_numpy(dtype=np.float64)
    probes = df[probe].drop_duplicates("card", keep="last").set_index("card")
    for col, src in (("probe_ts", "ts"), ("probe_txn", "txn_id"), ("probe_device", "device_h")):
        cards.loc[probes.index, col] = probes[src]
    cards["probe_ts"] = cards["probe_ts"].fillna(NEVER)
    cards["probe_device"] = cards["probe_device"].fillna(0)
    for column in ALERT_TS.values():
        cards[column] = cards[column].fillna(NEVER)
    for (rule, card), ts in alert_ts.items():
        cards.loc[card, ALERT_TS[rule]] = ts
    cards.index.name = "card"
    cards = cards.reset_index().astype(CARD_COLUMNS)[list(CARD_COLUMNS)]

    new_cards = new["card"].to_numpy(dtype=np.int64)
    dev = new["device_h"].fillna(0).to_numpy(dtype=np.int64)
    has_dev = dev != 0
    seen_new = pd.DataFrame({
        "card": np.concatenate([new_cards[has_dev], new_cards]),
        "key": np.concatenate([
            pair_key(new_cards[has_dev], dev[has_dev], SALT_DEVICE),
            pair_key(new_cards, new["country_h"].to_numpy(dtype=np.int64), SALT_COUNTRY)]),
    })
    seen = pd.concat([state.seen, seen_new], ignore_index=True).drop_duplicates("key")
    seen = seen[list(SEEN_COLUMNS)].astype(SEEN_COLUMNS)

    # keep what a window may still reach, plus each card's last card-present transaction
    horizon = rules.max_window_ms()
    card_last = pd.Series(cards["last_ts"].to_numpy(), index=cards["card"].to_numpy())
    last_of_card = df["card"].map(card_last).to_numpy(dtype=np.int64)
    keep = f.ts > last_of_card - horizon
    last_present = np.zeros(len(df), dtype=bool)
    idx = np.flatnonzero(df["present"].to_numpy(dtype=bool))
    if len(idx):
        nxt = np.append(f.code[idx[1:]] != f.code[idx[:-1]], True)
        last_present[idx[nxt]] = True
    recent = df[keep | last_present][list(RECENT_COLUMNS)].astype(RECENT_COLUMNS)
    return BucketState(recent.reset_index(drop=True), cards, seen)
