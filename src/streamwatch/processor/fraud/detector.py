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
The bucket's tables are numpy columns throughout (``BucketState`` keeps them
so, and serialises them to Arrow directly): per-bucket pandas overhead used to
dominate a call. Float running sums still use pandas' grouped sum/cumsum, whose
compensated summation the stored ``sum_norm`` values were built with.

Per-card history is forgotten when a card stays silent for longer than the
state TTL (``ttl_ms``); a card that comes back after that starts afresh.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from streamwatch.contracts.events import SEVERITIES, alert_id, format_epoch_ms
from streamwatch.processor.fraud.rules import Rule, RuleSet
from streamwatch.processor.fraud.state import (
    ALERT_TS,
    CARD_COLUMNS,
    NEVER,
    RECENT_COLUMNS,
    SALT_COUNTRY,
    SALT_DEVICE,
    TXN_COLUMNS,
    WHEREABOUTS,
    BucketState,
    Columns,
    StateDelta,
    member,
    pair_key,
    rows_of,
)

_SHIFT = np.int64(1 << 41)  # > any event-time span (ms) plus window: ~69 years
_EARTH_RADIUS_KM = 6371.0088
#: hash columns that the state does not keep per transaction (NaN in prior rows)
_HASHES = ("country_h", "device_h")
#: "not yet" for first-use times
_LATEST = np.int64(1 << 62)
#: winsorising of the amount baseline when amount_spike (which sets it) is off
_DEFAULT_CLIP = 8.0
#: alert scores from which the severity is at least medium / high
_MEDIUM, _HIGH = 0.6, 0.75


@dataclass
class _Frame:
    """The bucket's prior + new transactions, sorted, with the arrays the rules share.

    ``cols`` holds every transaction column as a numpy array; prior rows (from the
    state) have NaN where the state keeps no value (card_id, category, devices), and
    ``country_h``/``device_h`` are float64 (what the original pandas concat produced;
    the keys derived from them are stored in the state, so they must not change).
    """

    cols: Columns
    is_new: np.ndarray
    code: np.ndarray
    key: np.ndarray
    ts: np.ndarray
    amount: np.ndarray
    #: history segment: a card's rows split where it was silent for longer than the TTL
    seg: np.ndarray
    #: row lies in the card's first segment here, i.e. the state's history still applies
    in_first: np.ndarray
    #: per row: the row of its card in the (touched) card table, -1 for a card without one
    prof: np.ndarray

    def __len__(self) -> int:
        return len(self.ts)

    def hashes(self, column: str) -> np.ndarray:
        """``country_h``/``device_h`` as int64 with 0 for none."""
        values = self.cols[column]
        return np.where(np.isnan(values), 0.0, values).astype(np.int64)

    def window_start(self, window_ms: int) -> np.ndarray:
        """Index of the first row of the same card with ts > ts_i - window (per row)."""
        return np.searchsorted(self.key, self.key - np.int64(window_ms), side="right")

    @staticmethod
    def count(mask: np.ndarray, start: np.ndarray) -> np.ndarray:
        """Rows matching ``mask`` in ``[start_i, i]`` for every row i."""
        cum = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
        return cum[1:] - cum[start]

    def seg_cumsum(self, values: np.ndarray) -> np.ndarray:
        """Running sum of integer ``values`` within each history segment (inclusive)."""
        cum = np.cumsum(values, dtype=np.int64)
        starts = np.flatnonzero(np.r_[True, self.seg[1:] != self.seg[:-1]])
        before = (cum - values)[starts]
        return cum - before[self.seg - 1]

    def lookup(self, table: Columns, column: str, default: Any) -> np.ndarray:
        """Per row: ``column`` of the row's card in the card table, ``default`` if none."""
        values = table[column]
        if len(values) == 0:
            return np.full(len(self), default, dtype=np.result_type(values.dtype,
                                                                     np.asarray(default)))
        return np.where(self.prof >= 0, values[np.maximum(self.prof, 0)], default)


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


def _build_frame(recent: Columns, cards: Columns, new: Columns, ttl_ms: int) -> _Frame:
    n_prior, n_new = len(recent["card"]), len(new["card"])
    cols: Columns = {}
    for name in TXN_COLUMNS:
        if name in recent:
            cols[name] = np.concatenate([recent[name], new[name]])
        elif name in _HASHES:
            cols[name] = np.concatenate([np.full(n_prior, np.nan), new[name].astype(np.float64)])
        else:
            cols[name] = np.concatenate([np.full(n_prior, np.nan, dtype=object), new[name]])
    # prior rows: whether they were located (decided when they were new); new rows: later
    cols["located"] = np.r_[recent["located"].astype(bool), np.zeros(n_new, dtype=bool)]
    is_new = np.r_[np.zeros(n_prior, dtype=bool), np.ones(n_new, dtype=bool)]
    code0, ts0 = cols["card"], cols["ts"]
    order = np.lexsort((ts0, code0))
    c, t = code0[order], ts0[order]
    if np.any((c[1:] == c[:-1]) & (t[1:] == t[:-1])):
        # same card, same millisecond: break the tie by txn_id, as any replay will
        order = np.lexsort((cols["txn_id"], ts0, code0))
    cols = {k: v[order] for k, v in cols.items()}
    is_new = is_new[order]
    code_sorted = cols["card"]
    change = np.ones(len(order), dtype=bool)
    change[1:] = code_sorted[1:] != code_sorted[:-1]
    code = np.cumsum(change, dtype=np.int64)
    ts = cols["ts"]
    base = ts.min() if len(ts) else 0
    key = code * _SHIFT + (ts - base)
    reset = np.zeros(len(order), dtype=bool)
    reset[1:] = ~change[1:] & (ts[1:] - ts[:-1] > ttl_ms)
    resets = np.cumsum(reset)
    starts = np.flatnonzero(change)
    at_card_start = resets[starts][code - 1]
    prof = pd.Index(cards["card"]).get_indexer(pd.Index(code_sorted)) if len(cards["card"]) else \
        np.full(len(order), -1, dtype=np.intp)
    return _Frame(cols, is_new, code, key, ts, cols["amount"], np.cumsum(change | reset),
                  resets == at_card_start, prof)


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


def _first_use(f: _Frame, seen: Columns, column: str, salt: np.uint64) -> np.ndarray:
    """Per row: the event time the card first used the row's device/country (in state or
    earlier in the frame; the row's own time for a first use)."""
    keys = pair_key(f.cols["card"], f.hashes(column), salt)
    first = np.full(len(f), _LATEST, dtype=np.int64)
    if len(seen["key"]):
        idx = pd.Index(seen["key"]).get_indexer(pd.Index(keys))
        first = np.where(idx >= 0, seen["first_ts"][np.maximum(idx, 0)], first)
    uniq, inv = np.unique(np.where(f.is_new, keys, 0), return_inverse=True)
    earliest = np.full(len(uniq), _LATEST, dtype=np.int64)
    np.minimum.at(earliest, inv, np.where(f.is_new, f.ts, _LATEST))
    return np.minimum(first, earliest[inv])


@dataclass
class _Context:
    """What several rules read per row: the card's amount baseline and device history."""

    norm: np.ndarray  # amount / category typical
    n_before: np.ndarray  # amounts in the card's baseline before the row
    mu: np.ndarray  # the baseline: log of the card's typical multiple of the category
    n_all: np.ndarray  # transactions of the card before the row
    device: np.ndarray  # device hash, 0 = none
    device_since: np.ndarray  # when the card first used the row's device
    card_first: np.ndarray  # the card's first transaction (of its current history)
    country_since: np.ndarray
    #: where the owner last was on another device than the row's: time (NEVER = unknown),
    #: latitude, longitude of the card's last use of a different device before the row
    owner_ts: np.ndarray
    owner_lat: np.ndarray
    owner_lon: np.ndarray


def _whereabouts(f: _Frame, cards: Columns, device: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: time and place of the card's last use of another device before the row.

    A customer's devices are where the customer is, so that use says where the owner
    was; a device that claims to be somewhere the owner could not have reached since
    is not the owner's. The new rows with a device form runs of one device per card;
    a run's reference is the end of the run before it, and a card's first run looks
    in the card table (its last device use, or the use before that when the run
    continues the same device).
    """
    n = len(f)
    ref_ts = np.full(n, NEVER, dtype=np.int64)
    ref_lat, ref_lon = np.full(n, np.nan), np.full(n, np.nan)
    idx = np.flatnonzero(f.is_new & (device != 0))
    if len(idx) == 0:
        return ref_ts, ref_lat, ref_lon
    seg, dev = f.seg[idx], device[idx]
    start = np.r_[True, (seg[1:] != seg[:-1]) | (dev[1:] != dev[:-1])]
    starts = np.flatnonzero(start)
    run = np.cumsum(start) - 1
    first_in_seg = np.r_[True, seg[starts[1:]] != seg[starts[:-1]]]
    r_ts = np.full(len(starts), NEVER, dtype=np.int64)
    r_lat, r_lon = np.full(len(starts), np.nan), np.full(len(starts), np.nan)
    prev_end = idx[starts[1:] - 1]
    follow = ~first_in_seg[1:]
    r_ts[1:] = np.where(follow, f.ts[prev_end], NEVER)
    r_lat[1:] = np.where(follow, f.cols["lat"][prev_end], np.nan)
    r_lon[1:] = np.where(follow, f.cols["lon"][prev_end], np.nan)
    pos = idx[starts]
    st_dev = f.lookup(cards, "dev_h", 0)[pos]
    from_state = first_in_seg & f.in_first[pos] & (st_dev != 0)
    same = st_dev == dev[starts]
    for out, column in ((r_ts, "ts"), (r_lat, "lat"), (r_lon, "lon")):
        none = WHEREABOUTS[f"dev_{column}"]
        st = np.where(same, f.lookup(cards, f"prev_{column}", none)[pos],
                      f.lookup(cards, f"dev_{column}", none)[pos])
        out[from_state] = st[from_state]
    ref_ts[idx], ref_lat[idx], ref_lon[idx] = r_ts[run], r_lat[run], r_lon[run]
    return ref_ts, ref_lat, ref_lon


def _impossible_travel(f: _Frame, rule: Rule, ctx: _Context) -> list[Candidate]:
    # where the owner was: card present, or online from a device the card has used for a
    # while (a new device's location is not the owner's: it may be a fraudster's)
    # (or the device the card started with: a card is issued to its owner)
    settled = (ctx.device != 0) & ((ctx.device_since <= f.ts - int(rule.p("device_age_s") * 1000))
                                   | (ctx.device_since <= ctx.card_first))
    present = f.cols["present"].astype(bool)
    located = np.where(f.is_new, present | settled, f.cols["located"])
    f.cols["located"] = located
    idx = np.flatnonzero(located)
    if len(idx) < 2:
        return []
    cur, prev = idx[1:], idx[:-1]
    keep = (f.code[cur] == f.code[prev]) & f.is_new[cur]
    cur, prev = cur[keep], prev[keep]
    if len(cur) == 0:
        return []
    country = f.cols["country"]
    lat, lon = f.cols["lat"], f.cols["lon"]
    dist = _haversine_km(lat[prev], lon[prev], lat[cur], lon[cur])
    hours = (f.ts[cur] - f.ts[prev]) / 3_600_000.0
    # the quickest plausible trip: a flight at max_speed_kmh plus time at both airports
    needed = dist / rule.p("max_speed_kmh") + rule.p("airport_h")
    ok = (dist >= rule.p("min_distance_km")) & (hours < needed)
    if rule.p("require_country_change"):
        ok &= country[cur] != country[prev]
    out = []
    for c, p, d, h, n in zip(cur[ok], prev[ok], dist[ok], hours[ok], needed[ok], strict=True):
        out.append(Candidate(
            int(c), rule.name, int(p), (int(p), int(c)), _score(n, max(h, 1e-6)),
            f"{country[p]} to {country[c]}: {d:.0f} km in {h * 60:.0f} min; "
            f"a trip takes at least {n:.1f} h"))
    return out


def _normalised(f: _Frame, typical: dict[str, float]) -> np.ndarray:
    if not typical:
        return f.amount.astype(np.float64)
    ref = pd.Series(f.cols["merchant_category"]).map(typical).to_numpy(dtype=np.float64,
                                                                        na_value=np.nan)
    return f.amount / ref


def _log_norm(norm: np.ndarray, clip: float) -> np.ndarray:
    """The baseline's input: log of the normalised amount, winsorised at 1/clip .. clip
    of the category so one huge amount cannot drag a card's baseline far."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.clip(np.log(norm), -math.log(clip), math.log(clip))


def _history(f: _Frame, prof: Columns, lnorm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: count and sum of the card's baseline values before that row."""
    n0 = np.where(f.in_first, f.lookup(prof, "n_norm", 0), 0)
    s0 = np.where(f.in_first, f.lookup(prof, "sum_lnorm", 0.0), 0.0)
    counted = f.is_new & np.isfinite(lnorm)
    vals = np.where(counted, lnorm, 0.0)
    n_before = f.seg_cumsum(counted.astype(np.int64)) - counted
    s_before = pd.Series(vals).groupby(f.seg).cumsum().to_numpy() - vals
    return n0 + n_before, s0 + s_before


def _unknown_device(f: _Frame, ctx: _Context, window_ms: float) -> np.ndarray:
    """Online rows from no device, or from one new to the card: first used within the
    window, after the card's first transaction (the device a card starts with is the
    owner's)."""
    online = ~f.cols["present"].astype(bool)
    new = (ctx.device_since > f.ts - window_ms) & (ctx.device_since > ctx.card_first)
    return online & ((ctx.device == 0) | new)


def _amount_spike(f: _Frame, rule: Rule, ctx: _Context,
                  takeover: Rule | None) -> list[Candidate]:
    with np.errstate(divide="ignore", invalid="ignore"):
        log_norm = np.log(ctx.norm)
    warm = ctx.n_before >= rule.p("min_history")
    # against the card's baseline, which starts at the category's typical purchase and
    # moves to the card's own amounts as they come; the bar moves with it, from
    # category_ratio (nothing known) to multiplier (min_history amounts known)
    excess = log_norm - ctx.mu
    prior = rule.p("prior_weight")
    cold = prior / (ctx.n_before + prior) if prior > 0 else (ctx.n_before == 0) * 1.0
    lo, hi = math.log(rule.p("multiplier")), math.log(rule.p("category_ratio"))
    limit = np.where(warm, lo, lo + (hi - lo) * cold)
    fire = f.is_new & (f.amount >= rule.p("min_amount")) & (excess >= limit)
    if takeover is not None:
        # a purchase the takeover rule fires on is the takeover's (one alert, one story)
        fire &= ~_takeover_fires(f, takeover, ctx)[0]
    cat = f.cols["merchant_category"]
    out = []
    for i in np.flatnonzero(fire):
        ratio = math.exp(excess[i])
        why = (f"{ratio:.1f}x the card's usual {cat[i]} amount" if warm[i]
               else f"{ratio:.1f}x the card's usual {cat[i]} amount, from "
                    f"{int(ctx.n_before[i])} earlier amounts and the category's typical")
        out.append(Candidate(int(i), rule.name, int(i), (int(i),),
                             _score(ratio, math.exp(limit[i])),
                             f"{f.amount[i]:.2f} USD in {cat[i]}, {why}"))
    return out


def _out_of_reach(f: _Frame, rule: Rule, ctx: _Context) -> tuple[np.ndarray, np.ndarray]:
    """Per row: whether the row's device is further from where the owner last was (on
    another device) than any trip since could take; and that distance (km)."""
    known = ctx.owner_ts != NEVER
    dist = np.where(known, _haversine_km(ctx.owner_lat, ctx.owner_lon, f.cols["lat"],
                                         f.cols["lon"]), 0.0)
    hours = (f.ts - ctx.owner_ts) / 3_600_000.0
    needed = dist / rule.p("max_speed_kmh") + rule.p("airport_h")
    return known & (dist >= rule.p("far_km")) & (hours < needed), dist


def _takeover_fires(f: _Frame, rule: Rule, ctx: _Context
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows the takeover rule fires on, before cooldown; with each row's amount ratio to
    the card's typical, whether it came with strong evidence, and the distance (km)."""
    unknown = _unknown_device(f, ctx, rule.p("window_s") * 1000)
    far, dist = _out_of_reach(f, rule, ctx)
    # strong evidence that the device is not the owner's: none at all, or one that is
    # where the owner could not be; then a moderate purchase is enough
    strong = (ctx.device == 0) | far
    ratio = ctx.norm / np.exp(ctx.mu)
    warm = ctx.n_before >= rule.p("min_history")
    # without it, only a big purchase from a device that has already been used (a thief
    # tries the account before spending; an owner's new device makes its first purchase
    # like any other, which amount_spike judges)
    reused = (ctx.device != 0) & (ctx.device_since < f.ts)
    bar = np.where(warm, rule.p("spend_ratio"), rule.p("cold_ratio"))
    big = np.where(strong, ratio >= rule.p("strong_ratio"), reused & (ratio >= bar))
    fire = (f.is_new & unknown & (ctx.n_all >= 1) & (f.amount >= rule.p("min_amount"))
            & big)
    return fire, ratio, strong, dist


def _account_takeover(f: _Frame, rule: Rule, ctx: _Context) -> list[Candidate]:
    fire, ratio, strong, dist = _takeover_fires(f, rule, ctx)
    names = f.cols["device_id"]
    out = []
    for i in np.flatnonzero(fire):
        device = "no device" if ctx.device[i] == 0 else f"new device {names[i]}"
        minutes = (f.ts[i] - ctx.device_since[i]) / 60_000.0
        since = "" if ctx.device[i] == 0 else f" {minutes:.0f} min after its first use"
        where = ""
        if ctx.device[i] != 0 and strong[i]:
            gap = (f.ts[i] - ctx.owner_ts[i]) / 60_000.0
            where = f", {dist[i]:.0f} km from the owner's device {gap:.0f} min before"
        bar = rule.p("strong_ratio") if strong[i] else rule.p(
            "spend_ratio" if ctx.n_before[i] >= rule.p("min_history") else "cold_ratio")
        score = _score(ratio[i], bar)
        if strong[i]:
            score = min(0.99, score + 0.15)
        out.append(Candidate(
            int(i), rule.name, int(i), (int(i),), round(score, 4),
            f"{f.amount[i]:.2f} USD online, {ratio[i]:.1f}x the card's usual, from {device}"
            f"{since}{where} ({f.cols['country'][i]})"))
    return out


def _new_columns(new: pd.DataFrame) -> Columns:
    """The batch's rows as numpy columns, first occurrence of each txn_id only."""
    keep = ~pd.Index(new["txn_id"]).duplicated(keep="first")
    cols = {c: new[c].to_numpy() for c in TXN_COLUMNS}
    for c, t in (("card", np.int64), ("ts", np.int64), ("amount", np.float64),
                 ("present", bool)):
        cols[c] = np.asarray(cols[c], dtype=t)
    return {c: v[keep] for c, v in cols.items()}


def detect(state: BucketState, new: pd.DataFrame, rules: RuleSet, *, ttl_ms: int,
           detected_at_ms: int) -> tuple[list[dict[str, Any]], BucketState]:
    """Alerts for the new transactions of one bucket, and the bucket's next state."""
    alerts, _, nxt = detect_delta(state, new, rules, ttl_ms=ttl_ms,
                                  detected_at_ms=detected_at_ms)
    return alerts, nxt


def detect_delta(state: BucketState, new: pd.DataFrame, rules: RuleSet, *, ttl_ms: int,
                 detected_at_ms: int) -> tuple[list[dict[str, Any]], StateDelta, BucketState]:
    """Alerts for the new transactions of one bucket, the change to the bucket's
    state, and the next state (``delta.apply(state)``).

    Only the cards present in ``new`` are worked on; the rest of the bucket's
    tables is carried over untouched.
    """
    batch = _new_columns(new)
    recent, cards, seen = state.columns()
    batch_cards = pd.unique(batch["card"])
    in_r, in_c, in_s = (member(t["card"], batch_cards) for t in (recent, cards, seen))
    t_recent, t_cards, t_seen = rows_of(recent, in_r), rows_of(cards, in_c), rows_of(seen, in_s)
    replayed = pd.Series(batch["txn_id"]).isin(t_recent["txn_id"]).to_numpy()
    batch = rows_of(batch, ~replayed)
    if len(batch["card"]) == 0:
        return [], StateDelta.none(), state
    # a card silent for longer than the TTL starts afresh, whenever its state was evicted
    order = np.lexsort((batch["ts"], batch["card"]))
    first_card, first_at = np.unique(batch["card"][order], return_index=True)
    first_ts = batch["ts"][order][first_at]
    at = np.searchsorted(first_card, t_cards["card"])
    at_ok = at < len(first_card)
    at_ok[at_ok] = first_card[at[at_ok]] == t_cards["card"][at_ok]
    gap_over = np.zeros(len(at), dtype=bool)
    gap_over[at_ok] = first_ts[at[at_ok]] - t_cards["last_ts"][at_ok] > ttl_ms
    if gap_over.any():
        gone = t_cards["card"][gap_over]
        t_recent, t_cards, t_seen = (rows_of(t, ~member(t["card"], gone))
                                     for t in (t_recent, t_cards, t_seen))

    f = _build_frame(t_recent, t_cards, batch, ttl_ms)
    active = rules.enabled()
    spike = active.get("amount_spike")
    takeover = active.get("account_takeover")
    typical = spike.p("category_typical_usd") if spike else {}
    norm = _normalised(f, typical)
    clip = spike.p("baseline_clip") if spike else _DEFAULT_CLIP
    lnorm = _log_norm(norm, clip)
    n_before, s_before = _history(f, t_cards, lnorm)
    prior = spike.p("prior_weight") if spike else 0.0
    # transactions seen before each row (any category), for "established card" checks
    seen_n = np.where(f.in_first, f.lookup(t_cards, "n_txns", 0), 0)
    n_all = seen_n.astype(np.int64) + f.seg_cumsum(f.is_new.astype(np.int64)) - f.is_new
    device = f.hashes("device_h")
    ref_ts, ref_lat, ref_lon = _whereabouts(f, t_cards, device)
    seg_first = f.ts[np.flatnonzero(np.r_[True, f.seg[1:] != f.seg[:-1]])][f.seg - 1]
    card_first = np.where(f.in_first & (f.prof >= 0), f.lookup(t_cards, "first_ts", 0),
                          seg_first)
    ctx = _Context(norm=norm, card_first=card_first, n_before=n_before,
                   mu=s_before / (n_before + prior + 1e-12), n_all=n_all, device=device,
                   device_since=_first_use(f, t_seen, "device_h", SALT_DEVICE),
                   country_since=_first_use(f, t_seen, "country_h", SALT_COUNTRY),
                   owner_ts=ref_ts, owner_lat=ref_lat, owner_lon=ref_lon)

    candidates: list[Candidate] = []
    if "card_testing" in active:
        candidates += _card_testing(f, active["card_testing"])
    if "velocity" in active:
        candidates += _velocity(f, active["velocity"])
    travel = active.get("impossible_travel")
    if travel is not None:
        candidates += _impossible_travel(f, travel, ctx)
    else:
        f.cols["located"] = np.where(f.is_new, f.cols["present"].astype(bool),
                                     f.cols["located"])
    if spike:
        candidates += _amount_spike(f, spike, ctx, takeover)
    if takeover:
        candidates += _account_takeover(f, takeover, ctx)

    alerts, alert_ts = _apply_cooldown(f, t_cards, active, candidates, detected_at_ms)
    updated = _next_state(f, t_cards, t_seen, rules, lnorm, ctx, alert_ts)
    delta = StateDelta(batch_cards.astype(np.int64), BucketState.from_columns(*updated),
                       np.empty(0, dtype=np.int64))
    nxt = delta.apply(state)
    # TTL: a card silent for longer than the TTL (in event time) is dropped
    last_ts = nxt.cards_cols["last_ts"]
    expired = nxt.cards_cols["card"][last_ts < int(last_ts.max()) - ttl_ms]
    if len(expired):
        delta = StateDelta(delta.touched, delta.rows, expired)
        nxt = StateDelta(np.empty(0, dtype=np.int64), BucketState.new(), expired).apply(nxt)
    return alerts, delta, nxt


def severity_of(score: float, floor: str) -> str:
    """The alert's severity: from its score, never below the rule's ``severity``."""
    band = "high" if score >= _HIGH else "medium" if score >= _MEDIUM else "low"
    return max(band, floor, key=SEVERITIES.index)


def _apply_cooldown(f: _Frame, prof: Columns, active: dict[str, Rule],
                    candidates: list[Candidate], detected_at_ms: int
                    ) -> tuple[list[dict[str, Any]], dict[tuple[str, int], int]]:
    last_alert: dict[tuple[str, int], int] = {}
    alerts: list[dict[str, Any]] = []
    cards = f.cols["card"]
    card_ids = f.cols["card_id"]
    txns = f.cols["txn_id"]
    detected_at = format_epoch_ms(detected_at_ms)
    for c in sorted(candidates, key=lambda c: (c.pos, c.rule)):
        card, rule = cards[c.pos], active[c.rule]
        k = (c.rule, int(card))
        if k not in last_alert:
            row = f.prof[c.pos]
            last_alert[k] = int(prof[ALERT_TS[c.rule]][row]) if row >= 0 else NEVER
        if f.ts[c.pos] - last_alert[k] < rule.cooldown_s * 1000:
            continue
        last_alert[k] = int(f.ts[c.pos])
        ids = [str(txns[p]) for p in c.txn_positions]
        alerts.append({
            "alert_id": alert_id(c.rule, card_ids[c.pos], ids[0]), "rule": c.rule,
            "severity": severity_of(c.score, rule.severity), "score": float(c.score),
            "card_id": card_ids[c.pos],
            "txn_ids": ids,
            "event_time": format_epoch_ms(int(f.ts[c.pos])), "detected_at": detected_at,
            "reason": c.reason,
        })
    return alerts, last_alert


def _next_state(f: _Frame, prof: Columns, seen: Columns, rules: RuleSet, lnorm: np.ndarray,
                ctx: _Context, alert_ts: dict[tuple[str, int], int]
                ) -> tuple[Columns, Columns, Columns]:
    """The touched cards' tables after this batch: (recent, cards, seen)."""
    cols = f.cols
    norm = lnorm
    counted = f.is_new & np.isfinite(norm)
    # only the card's last history segment counts; if that is not its first one here,
    # the card was silent for longer than the TTL within this batch and starts afresh
    # (segments only grow along the sorted frame: a card's last is that of its last row)
    last_row = np.flatnonzero(np.r_[f.code[1:] != f.code[:-1], True])
    in_last = f.seg == f.seg[last_row][f.code - 1]

    # per card of the batch (new rows are sorted by card, then time)
    rows = np.flatnonzero(f.is_new)
    rc = f.code[rows]
    first = np.flatnonzero(np.r_[True, rc[1:] != rc[:-1]])
    g_card = cols["card"][rows][first]
    g_last_ts = np.maximum.reduceat(f.ts[rows], first)
    g_n = np.add.reduceat((counted & in_last)[rows].astype(np.int64), first)
    g_k = np.add.reduceat(in_last[rows].astype(np.int64), first)
    g_fresh = np.logical_or.reduceat(~f.in_first[rows], first)
    group = np.repeat(np.arange(len(first)), np.diff(np.r_[first, len(rows)]))
    g_s = pd.Series(np.where(counted & in_last, norm, 0.0)[rows]).groupby(group).sum().to_numpy()

    card = np.union1d(prof["card"], g_card)
    # get_indexer makes an Index of its target anyway; passing one costs nothing extra
    target = pd.Index(card)
    pi = pd.Index(prof["card"]).get_indexer(target)
    gi = pd.Index(g_card).get_indexer(target)
    has_p, has_g = pi >= 0, gi >= 0

    def old(column: str, default: Any) -> np.ndarray:
        values = prof[column]
        if len(values) == 0:
            return np.full(len(card), default, dtype=np.result_type(values.dtype,
                                                                     np.asarray(default)))
        return np.where(has_p, values[np.maximum(pi, 0)], default)

    def agg(values: np.ndarray, default: Any) -> np.ndarray:
        return np.where(has_g, values[np.maximum(gi, 0)], default)

    keep_old = ~agg(g_fresh, False)
    out: Columns = {"card": card}
    # the first transaction of the card's last history segment, unless the card table's
    # history still applies
    seg_first = f.ts[np.flatnonzero(np.r_[True, f.seg[1:] != f.seg[:-1]])][f.seg - 1]
    g_first = seg_first[rows][np.r_[first[1:], len(rows)] - 1]
    out["first_ts"] = np.where(keep_old & has_p, old("first_ts", 0), agg(g_first, 0))
    out["last_ts"] = np.fmax(old("last_ts", np.nan).astype(np.float64),
                             agg(g_last_ts, np.nan).astype(np.float64)).astype(np.int64)
    for column, values in (("n_norm", g_n), ("sum_lnorm", g_s), ("n_txns", g_k)):
        out[column] = (np.where(keep_old, old(column, 0).astype(np.float64), 0.0)
                       + agg(values, 0).astype(np.float64))
    out["n_norm"] = out["n_norm"].astype(np.int64)
    out["n_txns"] = out["n_txns"].astype(np.int64)
    # where the card was last used from a device: its last such row of this batch (in the
    # card's last history segment), else what the card table held
    m = np.flatnonzero(f.is_new & (ctx.device != 0) & in_last)
    last_dev = m[np.r_[f.code[m][1:] != f.code[m][:-1], True]] if len(m) else m
    wi = pd.Index(cols["card"][last_dev]).get_indexer(target)
    latest = {"dev_h": ctx.device, "dev_ts": f.ts, "dev_lat": cols["lat"],
              "dev_lon": cols["lon"], "prev_ts": ctx.owner_ts, "prev_lat": ctx.owner_lat,
              "prev_lon": ctx.owner_lon}
    for column, none in WHEREABOUTS.items():
        before = np.where(keep_old, old(column, none), none)
        values = latest[column][last_dev]
        out[column] = np.where(wi >= 0, values[np.maximum(wi, 0)] if len(values) else none,
                               before)
    for column in ALERT_TS.values():
        out[column] = old(column, NEVER).astype(np.int64)
    for (rule, c), ts in alert_ts.items():
        out[ALERT_TS[rule]][np.searchsorted(card, c)] = ts
    cards = {c: np.asarray(out[c], dtype=t) for c, t in CARD_COLUMNS.items()}

    new_cards = cols["card"][rows]
    dev = f.hashes("device_h")[rows]
    has_dev = dev != 0
    keys = np.concatenate([
        seen["key"],
        pair_key(new_cards[has_dev], dev[has_dev], SALT_DEVICE),
        pair_key(new_cards, cols["country_h"][rows].astype(np.int64), SALT_COUNTRY)])
    owners = np.concatenate([seen["card"], new_cards[has_dev], new_cards])
    since = np.concatenate([seen["first_ts"], ctx.device_since[rows][has_dev],
                            ctx.country_since[rows]])
    first_key = np.sort(np.unique(keys, return_index=True)[1])
    seen_out = {"card": owners[first_key], "key": keys[first_key], "first_ts": since[first_key]}

    # keep what a window may still reach, plus each card's last located transaction
    horizon = rules.max_window_ms()
    last_of_card = cards["last_ts"][np.searchsorted(card, cols["card"])]
    keep = f.ts > last_of_card - horizon
    last_present = np.zeros(len(f), dtype=bool)
    idx = np.flatnonzero(cols["located"])
    if len(idx):
        nxt = np.append(f.code[idx[1:]] != f.code[idx[:-1]], True)
        last_present[idx[nxt]] = True
    kept = keep | last_present
    recent = {c: np.asarray(cols[c][kept], dtype=t) for c, t in RECENT_COLUMNS.items()}
    return recent, cards, seen_out
