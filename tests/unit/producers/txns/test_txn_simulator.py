"""The generator's mechanics: determinism, feeds, pacing, delivery disorder, CLI config."""

from __future__ import annotations

import argparse
import threading

import orjson
import pytest

from streamwatch.contracts.events import parse_ts
from streamwatch.producers.txns import cli, settings
from streamwatch.producers.txns.config import SimConfig
from streamwatch.producers.txns.settings import TxnsSettings
from streamwatch.producers.txns.simulator import TxnGenerator, TxnSource

SMALL = SimConfig(seed=3, rate=100.0, fraud_rate=0.05)


def _times(txns: list[bytes]) -> list[float]:
    return [parse_ts(orjson.loads(t)["event_time"]).timestamp() for t in txns]


def test_same_seed_same_bytes_however_the_output_is_chunked() -> None:
    a = TxnGenerator(SMALL)
    b = TxnGenerator(SMALL)
    txns_a, labels_a = a.take(3000)
    txns_b: list[bytes] = []
    labels_b: list[bytes] = []
    for n in (1, 7, 500, 1492, 1000):
        t, lb = b.take(n)
        txns_b += t
        labels_b += lb
    assert txns_a == txns_b and labels_a == labels_b
    other, _ = TxnGenerator(SMALL.with_(seed=4)).take(3000)
    assert other != txns_a


def test_anchor_sets_event_time_and_first_txn_no_sets_ids() -> None:
    gen = TxnGenerator(SMALL.with_(anchor_ms=1_800_000_000_000), first_txn_no=501)
    txns, labels = gen.take(10)
    first = orjson.loads(txns[0])
    assert first["txn_id"] == "t-000000501" == orjson.loads(labels[0])["txn_id"]
    assert 1_800_000_000 <= _times(txns)[0] < 1_800_000_000 + 10


def test_labels_only_in_labels_one_per_transaction() -> None:
    txns, labels = TxnGenerator(SMALL).take(5000)
    docs = [orjson.loads(t) for t in txns]
    labs = [orjson.loads(x) for x in labels]
    assert [d["txn_id"] for d in docs] == [x["txn_id"] for x in labs]
    assert all(set(x) == {"txn_id", "is_fraud", "scenario", "incident_id"} for x in labs)
    assert not any({"is_fraud", "scenario", "incident_id"} & set(d) for d in docs)
    assert any(x["is_fraud"] for x in labs) and not all(x["is_fraud"] for x in labs)


def test_without_disorder_delivery_follows_event_time() -> None:
    txns, _ = TxnGenerator(SMALL).take(3000)
    times = _times(txns)
    assert times == sorted(times)


def test_disorder_and_late_events_change_delivery_not_event_time() -> None:
    config = SMALL.with_(disorder_s=5.0, late_fraction=0.02, late_by_s=120.0)
    txns, labels = TxnGenerator(config).take(20_000)
    docs = [orjson.loads(t) for t in txns]
    times = [parse_ts(d["event_time"]).timestamp() for d in docs]
    assert [d["txn_id"] for d in docs] == [orjson.loads(x)["txn_id"] for x in labels]
    # ids follow event time, so in id order event times never go back
    by_id = [t for _, t in sorted(zip((d["txn_id"] for d in docs), times, strict=True))]
    assert by_id == sorted(by_id)
    high = float("-inf")
    lags = []
    for t in times:
        high = max(high, t)
        lags.append(high - t)
    assert sum(lag > 0 for lag in lags) > len(lags) // 10, "out-of-order deliveries"
    assert max(lags) >= config.late_by_s, "late deliveries"
    block_s = 512 / config.rate
    assert max(lags) <= config.late_by_s + config.disorder_s + block_s


class FakeClock:
    """Advances by one tick per reading, so pacing is exact and independent of load."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_source_paces_batches_labels_first_and_stops_at_max_events() -> None:
    config = SMALL.with_(rate=1000.0, max_events=250)
    source = TxnSource(config, tick_s=0.0, clock=FakeClock(0.01))
    calls: list[tuple[str, int]] = []
    seen: dict[str, list[bytes]] = {"transactions": [], "labels": []}

    def emit(feed: str, payloads: list[bytes]) -> None:
        calls.append((feed, len(payloads)))
        seen[feed] += payloads

    source.run(emit, threading.Event())
    assert len(seen["transactions"]) == len(seen["labels"]) == 250
    assert [f for f, _ in calls[:2]] == ["labels", "transactions"]
    batch_sizes = [n for f, n in calls if f == "transactions"]
    assert len(batch_sizes) >= 20 and max(batch_sizes) <= 1000 * 0.01 + 1
    expected, _ = TxnGenerator(config).take(250)
    assert seen["transactions"] == expected


def test_source_returns_when_stopped() -> None:
    stop = threading.Event()
    source = TxnSource(SMALL, tick_s=0.0, clock=FakeClock(0.01))
    emitted: list[int] = []

    def emit(feed: str, payloads: list[bytes]) -> None:
        emitted.append(len(payloads))
        if sum(emitted) > 400:
            stop.set()

    source.run(emit, stop)
    assert stop.is_set()


def _parse(argv: list[str]) -> TxnsSettings:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return TxnsSettings.from_args(parser.parse_args(argv))


def test_cli_builds_the_config_from_flags_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMWATCH_TXNS_FRAUD_RATE", "0.2")
    args = _parse(["--seed", "5", "--rate", "50", "--scenario-weights", "velocity=3,amount_spike=0",
                   "--start-time", "2026-11-20T10:00:00Z", "--disorder", "2s"])
    config = cli.build_config(cli.world_params(args))
    assert config.fraud_rate == 0.2 and config.seed == 5
    assert config.anchor_ms == int(parse_ts("2026-11-20T10:00:00Z").timestamp() * 1000)
    assert config.scenarios.weights["velocity"] == 3.0
    assert config.scenarios.shares()["amount_spike"] == 0.0
    assert config.disorder_s == 2.0


@pytest.mark.parametrize("argv, needle", [
    (["--cards", "100", "--rate", "1000"], "--cards"),
    (["--late-fraction", "0.1"], "--late-by"),
])
def test_cli_refuses_bad_combinations_with_the_fix(argv: list[str], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        cli.build_config(cli.world_params(_parse(
            [*argv, "--seed", "1", "--start-time", "2026-11-20T10:00:00Z"])))


def test_cli_refuses_unknown_scenarios() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="card_testing"):
        settings.scenario_weights("phishing=1")


def test_cli_refuses_a_start_time_in_the_future() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="future"):
        settings.start_time_text("2099-01-01T00:00:00Z")
    assert settings.start_time_text("2026-11-20T10:00:00Z") == "2026-11-20T10:00:00Z"
