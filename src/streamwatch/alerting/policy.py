"""What a delivery attempt's result means for its message and its subscription.

* 2xx: delivered.
* 410 Gone: the receiver asks us to stop — the message is dead and the
  subscription disabled (Standard Webhooks: "Sender should disable the endpoint").
* other failures: retried on the schedule (counted from the start of the current
  round, so a replay gets a fresh schedule); a message that exhausts it becomes a
  dead letter and disables the subscription; a subscription failing
  ``disable_after_failures`` attempts in a row is disabled with its messages left
  pending, so re-enabling it resumes them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from streamwatch.alerting.schedule import next_delay
from streamwatch.alerting.store.models import AttemptResult, Claimed, Decision


@dataclass
class RetryPolicy:
    schedule: tuple[float, ...]
    jitter: float = 0.2
    disable_after_failures: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def decide(self, claimed: Claimed, result: AttemptResult, streak: int,
               now_ms: int) -> Decision:
        if result.ok:
            return Decision("delivered", "delivered", now_ms)
        if result.status_code == 410:
            return Decision("dead", "dead", now_ms,
                            disable_reason="the endpoint answered 410 Gone")
        made = claimed.attempts + 1 - claimed.round_start
        delay = next_delay(self.schedule, made, self.jitter, self.rng, result.retry_after)
        if delay is None:
            return Decision("dead", "dead", now_ms, disable_reason=(
                f"message {claimed.message_id} failed all {made} attempts of the retry "
                f"schedule; last error: {result.error or result.status_code}"))
        next_ms = now_ms + int(delay * 1000)
        if self.disable_after_failures and streak >= self.disable_after_failures:
            return Decision("failed", "pending", next_ms, disable_reason=(
                f"{streak} consecutive failed attempts; last error: "
                f"{result.error or result.status_code}"))
        return Decision("retrying", "pending", next_ms)
