import pytest

from streamwatch.quality.incidents import QualityTracker


def label(txn, scenario=None, incident=None):
    return {"txn_id": txn, "is_fraud": scenario is not None, "scenario": scenario,
            "incident_id": incident}


def alert(aid, rule, *txns):
    return {"alert_id": aid, "rule": rule, "txn_ids": list(txns)}


def test_incident_level_precision_and_recall():
    q = QualityTracker()
    q.add_labels([label("t1", "card_testing", "i1"), label("t2", "card_testing", "i1"),
                  label("t3", "velocity", "i2"), label("t4"), label("t5", "velocity", "i3")])
    # two alerts on one incident, one false alarm, one wrong-rule alert
    q.add_alerts([alert("a1", "card_testing", "t1"), alert("a2", "card_testing", "t2"),
                  alert("a3", "card_testing", "t4"), alert("a4", "amount_spike", "t3")])
    r = q.report()
    ct = r["by_scenario"]["card_testing"]
    assert (ct["tp"], ct["fp"], ct["fn"], ct["incidents"]) == (2, 1, 0, 1)
    assert ct["precision"] == 2 / 3 and ct["recall"] == 1.0
    v = r["by_scenario"]["velocity"]
    assert (v["detected"], v["fn"], v["precision"]) == (0, 2, None)
    assert r["by_scenario"]["amount_spike"]["precision"] == 0.0
    o = r["overall"]
    assert (o["tp"], o["fp"], o["detected"], o["incidents"]) == (3, 1, 2, 3)
    assert o["labelled_transactions"] == 5


def test_alerts_before_labels_and_replayed_alerts_count_once():
    q = QualityTracker()
    q.add_alerts([alert("a1", "velocity", "t9")])
    q.add_alerts([alert("a1", "velocity", "t9")])
    assert q.report()["overall"]["fp"] == 1
    q.add_labels([label("t9", "velocity", "i9")])
    r = q.report()["by_scenario"]["velocity"]
    assert (r["tp"], r["fp"], r["f1"]) == (1, 0, 1.0)


def _live_stream(seed: int, incidents: int) -> list[tuple[str, list[dict]]]:
    """Labels per incident, its alerts a few incidents earlier or later, false alarms."""
    import random

    rng = random.Random(seed)
    scenarios = ["card_testing", "velocity", "amount_spike", "impossible_travel"]
    events: list[tuple[float, str, dict]] = []
    for i in range(incidents):
        scenario = rng.choice(scenarios)
        txns = [f"t{i}-{k}" for k in range(rng.randint(1, 4))]
        for t in txns:
            events.append((i, "labels", label(t, scenario, f"i{i}")))
        for _ in range(rng.choice([0, 1, 1, 2])):  # missed, detected, detected twice
            rule = scenario if rng.random() < 0.85 else rng.choice(scenarios)
            lag = rng.uniform(-3, 25)  # alerts mostly after the labels, some before
            events.append((i + lag, "alerts",
                           alert(f"a{i}-{len(events)}", rule, rng.choice(txns))))
        if rng.random() < 0.2:  # a false alarm on a legit transaction
            events.append((i + rng.uniform(0, 25), "alerts",
                           alert(f"fp{i}", rng.choice(scenarios), f"legit{i}")))
        events.append((i, "labels", label(f"legit{i}")))
    events.sort(key=lambda e: e[0])
    return [(kind, [body]) for _, kind, body in events]


@pytest.mark.parametrize(("max_incidents", "max_alerts"), [(200, 300), (300, 120)])
def test_a_bounded_tracker_reports_what_an_unbounded_one_does(max_incidents, max_alerts):
    # The exporter runs for days: its tracker retires old incidents and alerts, and the
    # report must not change as long as alerts and labels of one incident arrive within
    # the retained horizon (here 28 incidents apart; the caps keep ~90 incidents or more).
    # Either cap may bind first: alerts retired while their incident lives, or the reverse.
    bounded = QualityTracker(max_incidents=max_incidents, max_alerts=max_alerts)
    unbounded = QualityTracker()
    most = {"incidents": 0, "alerts": 0}
    for i, (kind, batch) in enumerate(_live_stream(seed=4, incidents=3_000)):
        for q in (bounded, unbounded):
            getattr(q, f"add_{kind}")(batch)
        sizes = bounded.sizes()
        most = {k: max(most[k], sizes[k]) for k in most}
        if i % 997 == 0:
            assert bounded.report() == unbounded.report()
    assert bounded.report() == unbounded.report()
    assert most == {"incidents": max_incidents, "alerts": max_alerts}
    assert unbounded.sizes()["incidents"] == 3_000


def test_retired_items_keep_their_verdicts():
    q = QualityTracker(max_incidents=2, max_alerts=2)
    q.add_labels([label("t1", "velocity", "i1")])
    q.add_alerts([alert("a1", "velocity", "t1")])  # detects i1
    q.add_alerts([alert("a2", "card_testing", "x"), alert("a3", "card_testing", "y")])
    assert q.sizes()["alerts"] == 1  # a1 and a2 retired, a1's detection kept by i1
    q.add_labels([label("t2", "card_testing", "i2"), label("t3", "card_testing", "i3")])
    assert q.sizes()["incidents"] == 1  # i1 and i2 retired
    r = q.report()
    assert (r["by_scenario"]["velocity"]["tp"], r["by_scenario"]["velocity"]["detected"]) == (1, 1)
    ct = r["by_scenario"]["card_testing"]
    # a2 was retired as a false alarm before anything named "x"; a3 stays live
    assert (ct["alerts"], ct["tp"], ct["incidents"], ct["detected"]) == (2, 0, 2, 0)
    assert (r["overall"]["detected"], r["overall"]["incidents"]) == (1, 3)
