from streamwatch.quality import QualityTracker


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
