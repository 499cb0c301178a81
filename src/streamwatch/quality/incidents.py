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

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from streamwatch.contracts.events import SCENARIOS


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _f1(p: float | None, r: float | None) -> float | None:
    if p is None or r is None:
        return None
    return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class _Incident:
    scenario: str
    txn_ids: list[str] = field(default_factory=list)
    detected_by_rule: bool = False
    detected_by_any: bool = False
    # detections by alerts that were retired: they outlive the alerts
    retired_rule: bool = False
    retired_any: bool = False


@dataclass
class _Alert:
    rule: str
    txn_ids: tuple[str, ...]
    # hits on incidents that were retired: frozen, since their labels are gone
    frozen_any: bool = False
    frozen_rule: bool = False


@dataclass
class _Retired:
    """Figures of retired alerts and incidents, final when they were retired."""

    alerts: Counter[str] = field(default_factory=Counter)  # by rule
    correct: Counter[str] = field(default_factory=Counter)  # by rule
    correct_any: int = 0
    incidents: Counter[str] = field(default_factory=Counter)  # by scenario
    detected: Counter[str] = field(default_factory=Counter)  # by scenario
    detected_any: int = 0


@dataclass
class QualityTracker:
    """Accumulates labels and alerts in any order and reports P/R/F1.

    ``max_incidents`` and ``max_alerts`` bound the memory of a long-running
    tracker (the exporter's): beyond them the oldest incidents and alerts are
    retired in chunks, their figures folded into totals that the report keeps
    adding. A retired item's verdict is final, so a label that arrives after its
    incident was retired, or an alert after the incident it names was retired,
    is counted as if nothing had been seen before. None (offline evaluation)
    keeps everything.
    """

    max_incidents: int | None = None
    max_alerts: int | None = None
    _txn_incident: dict[str, str] = field(default_factory=dict)
    _incidents: dict[str, _Incident] = field(default_factory=dict)  # oldest first
    # every live alert: re-checked at each report, since labels may come later
    _alerts: dict[str, _Alert] = field(default_factory=dict)  # oldest first
    _retired: _Retired = field(default_factory=_Retired)
    labelled_txns: int = 0

    def add_labels(self, labels: Iterable[Mapping[str, Any]]) -> None:
        for label in labels:
            self.labelled_txns += 1
            if not label.get("is_fraud"):
                continue
            scenario = str(label.get("scenario") or "unknown")
            txn_id = str(label["txn_id"])
            incident_id = str(label.get("incident_id") or f"txn:{txn_id}")
            if txn_id in self._txn_incident:
                continue  # a label read twice
            self._txn_incident[txn_id] = incident_id
            self._incidents.setdefault(incident_id, _Incident(scenario)).txn_ids.append(txn_id)
        self._retire_incidents()

    def add_alerts(self, alerts: Iterable[Mapping[str, Any]]) -> None:
        for alert in alerts:
            alert_id = str(alert["alert_id"])
            if alert_id not in self._alerts:
                self._alerts[alert_id] = _Alert(
                    str(alert["rule"]), tuple(str(t) for t in alert.get("txn_ids") or ()))
        self._retire_alerts()

    def sizes(self) -> dict[str, int]:
        """How many live items the tracker holds (what its memory grows with)."""
        return {"incidents": len(self._incidents), "alerts": len(self._alerts),
                "fraud_txns": len(self._txn_incident)}

    def _match(self) -> dict[str, tuple[bool, bool]]:
        """(correct, correct for its rule) per live alert; sets the incidents' flags."""
        for inc in self._incidents.values():
            inc.detected_by_rule, inc.detected_by_any = inc.retired_rule, inc.retired_any
        verdicts: dict[str, tuple[bool, bool]] = {}
        for alert_id, alert in self._alerts.items():
            hit_any, hit_rule = alert.frozen_any, alert.frozen_rule
            for txn in alert.txn_ids:
                incident_id = self._txn_incident.get(txn)
                if incident_id is None:
                    continue
                inc = self._incidents[incident_id]
                hit_any = True
                inc.detected_by_any = True
                if inc.scenario == alert.rule:
                    hit_rule = True
                    inc.detected_by_rule = True
            verdicts[alert_id] = (hit_any, hit_rule)
        return verdicts

    @staticmethod
    def _surplus(live: int, cap: int | None) -> int:
        # Retire down to 90 % of the cap, so a full pass runs once per chunk, not per add.
        return 0 if cap is None or live <= cap else live - int(cap * 0.9)

    def _retire_alerts(self) -> None:
        n = self._surplus(len(self._alerts), self.max_alerts)
        if not n:
            return
        verdicts = self._match()
        for alert_id in list(islice(self._alerts, n)):
            alert = self._alerts.pop(alert_id)
            hit_any, hit_rule = verdicts[alert_id]
            for txn in alert.txn_ids:
                incident_id = self._txn_incident.get(txn)
                if incident_id is not None:
                    inc = self._incidents[incident_id]
                    inc.retired_any = True
                    inc.retired_rule = inc.retired_rule or inc.scenario == alert.rule
            self._retired.alerts[alert.rule] += 1
            self._retired.correct[alert.rule] += hit_rule
            self._retired.correct_any += hit_any

    def _retire_incidents(self) -> None:
        n = self._surplus(len(self._incidents), self.max_incidents)
        if not n:
            return
        self._match()
        retiring = set(islice(self._incidents, n))
        for alert in self._alerts.values():
            for txn in alert.txn_ids:
                incident_id = self._txn_incident.get(txn)
                if incident_id in retiring:
                    alert.frozen_any = True
                    alert.frozen_rule = (alert.frozen_rule
                                         or self._incidents[incident_id].scenario == alert.rule)
        for incident_id in retiring:
            inc = self._incidents.pop(incident_id)
            for txn in inc.txn_ids:
                del self._txn_incident[txn]
            self._retired.incidents[inc.scenario] += 1
            self._retired.detected[inc.scenario] += inc.detected_by_rule
            self._retired.detected_any += inc.detected_by_any

    def report(self) -> dict[str, Any]:
        """``{"overall": {...}, "by_scenario": {scenario: {...}}}``."""
        verdicts = self._match()
        old = self._retired
        alerts_by_rule: Counter[str] = Counter(old.alerts)
        correct_by_rule: Counter[str] = Counter(old.correct)
        correct_any = old.correct_any
        for alert_id, alert in self._alerts.items():
            hit_any, hit_rule = verdicts[alert_id]
            alerts_by_rule[alert.rule] += 1
            correct_any += hit_any
            correct_by_rule[alert.rule] += hit_rule
        incidents: Counter[str] = Counter(old.incidents)
        detected: Counter[str] = Counter(old.detected)
        for inc in self._incidents.values():
            incidents[inc.scenario] += 1
            detected[inc.scenario] += inc.detected_by_rule

        by_scenario: dict[str, dict[str, Any]] = {}
        for s in sorted(set(SCENARIOS) | set(incidents)):
            by_scenario[s] = self._figures(
                alerts=alerts_by_rule.get(s, 0), correct=correct_by_rule.get(s, 0),
                incidents=incidents.get(s, 0), detected=detected.get(s, 0))
        overall = self._figures(
            alerts=sum(alerts_by_rule.values()), correct=correct_any,
            incidents=sum(incidents.values()),
            detected=old.detected_any + sum(i.detected_by_any for i in self._incidents.values()))
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
