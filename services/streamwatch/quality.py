"""Fraud detection quality against the simulator's ground truth.

Shared by ``streamwatch eval fraud`` (offline, whole files) and the metrics
exporter (live, incremental), so both report the same figures.

Matching is by incident, not by transaction, because one alert stands for a
pattern (seven card tests are one attack, not seven):

- an alert of rule R is a true positive when one of its ``txn_ids`` belongs
  to an incident whose scenario is R; otherwise it is a false positive;
- an incident of scenario S is detected when some alert of rule S names one
  of its transactions; undetected incidents are false negatives.

Overall figures ignore the rule name: an alert is correct when it names any
fraudulent transaction, an incident is detected by any alert. Rule names that
are not scenarios count only toward overall precision.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streamwatch.events import SCENARIOS


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _f1(p: float | None, r: float | None) -> float | None:
    if p is None or r is None:
        return None
    return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class _Incident:
    scenario: str
    detected_by_rule: bool = False
    detected_by_any: bool = False


@dataclass
class QualityTracker:
    """Accumulates labels and alerts in any order and reports P/R/F1."""

    _txn_incident: dict[str, str] = field(default_factory=dict)
    _incidents: dict[str, _Incident] = field(default_factory=dict)
    # alerts whose transactions have no label yet: re-checked when labels arrive
    _alerts: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    labelled_txns: int = 0

    def add_labels(self, labels: Iterable[Mapping[str, Any]]) -> None:
        for label in labels:
            self.labelled_txns += 1
            if not label.get("is_fraud"):
                continue
            scenario = str(label.get("scenario") or "unknown")
            txn_id = str(label["txn_id"])
            incident_id = str(label.get("incident_id") or f"txn:{txn_id}")
            self._txn_incident[txn_id] = incident_id
            self._incidents.setdefault(incident_id, _Incident(scenario))

    def add_alerts(self, alerts: Iterable[Mapping[str, Any]]) -> None:
        for alert in alerts:
            self._alerts[str(alert["alert_id"])] = (
                str(alert["rule"]), tuple(str(t) for t in alert.get("txn_ids") or ()))

    def report(self) -> dict[str, Any]:
        """``{"overall": {...}, "by_scenario": {scenario: {...}}}``."""
        for inc in self._incidents.values():
            inc.detected_by_rule = inc.detected_by_any = False
        alerts_by_rule: dict[str, int] = defaultdict(int)
        correct_by_rule: dict[str, int] = defaultdict(int)
        correct_any = 0
        for rule, txn_ids in self._alerts.values():
            alerts_by_rule[rule] += 1
            hit_any = hit_rule = False
            for txn in txn_ids:
                incident_id = self._txn_incident.get(txn)
                if incident_id is None:
                    continue
                inc = self._incidents[incident_id]
                hit_any = True
                inc.detected_by_any = True
                if inc.scenario == rule:
                    hit_rule = True
                    inc.detected_by_rule = True
            correct_any += hit_any
            correct_by_rule[rule] += hit_rule

        by_scenario: dict[str, dict[str, Any]] = {}
        scenarios = sorted(set(SCENARIOS) | {i.scenario for i in self._incidents.values()})
        for s in scenarios:
            incidents = [i for i in self._incidents.values() if i.scenario == s]
            detected = sum(i.detected_by_rule for i in incidents)
            by_scenario[s] = self._figures(
                alerts=alerts_by_rule.get(s, 0), correct=correct_by_rule.get(s, 0),
                incidents=len(incidents), detected=detected)
        overall = self._figures(
            alerts=len(self._alerts), correct=correct_any, incidents=len(self._incidents),
            detected=sum(i.detected_by_any for i in self._incidents.values()))
        overall["labelled_transactions"] = self.labelled_txns
        return {"overall": overall, "by_scenario": by_scenario}

    @staticmethod
    def _figures(*, alerts: int, correct: int, incidents: int, detected: int) -> dict[str, Any]:
        precision = _ratio(correct, alerts)
        recall = _ratio(detected, incidents)
        return {
            "precision": precision, "recall": recall, "f1": _f1(precision, recall),
            "tp": correct, "fp": alerts - correct, "fn": incidents - detected,
            "alerts": alerts, "incidents": incidents, "detected": detected,
        }
