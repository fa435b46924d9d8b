"""A per-host politeness budget shared by one download job's threads.

Each host has a request rate (requests per second). Requests to a host are spaced ``1 / rate``
apart, whichever thread sends them, so the threads cap concurrency and the budget caps rate. The
rate adapts to the server (additive increase, multiplicative decrease, as TCP does): an HTTP 429
halves it, at most once per round of requests already in flight, and pauses the host for the
server's ``Retry-After``; each success while the budget is the binding limit raises it by a fixed
step (``increase`` requests/s), never above the configured rate. A fixed step per success means
the budget climbs back from R/2 to R in about ``1 / (2 * increase)`` seconds whatever R is: ~10 s
at the default, so few requests meet a 429 once the job has settled. A server that throttles at
R requests/s therefore sees the job settle just below R instead of being hammered at full speed
(the ~10 % success rate img2dataset users report against Wikimedia).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class _HostState:
    rate: float  # current budget, requests per second
    next_free: float = 0.0  # monotonic time of the next free slot
    paused_until: float = 0.0  # Retry-After: nothing is sent to the host before this time
    last_decrease: float = float("-inf")  # send time after which a 429 may lower the rate again
    waited: bool = False  # the last request waited for its slot: the budget is the limit
    generation: int = 0  # bumped by every 429: slots handed out before it are void
    throttled: int = 0  # 429s seen
    decreases: int = 0


@dataclass
class HostThrottle:
    """Token-bucket spacing per host (``max_rate`` None: no budget, only Retry-After pauses).

    ``clock`` and ``sleep`` are injectable so the adaptation can be tested without waiting.
    """

    max_rate: float | None
    min_rate: float = 0.05  # one request per 20 s: never stop completely
    decrease: float = 0.5  # multiplicative factor on a 429
    increase: float = 0.05  # additive step per success, requests/s
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _hosts: dict[str, _HostState] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        if self.max_rate is not None and self.max_rate <= 0:
            raise ValueError(f"requests per second must be positive, got {self.max_rate}")

    def _state(self, host: str) -> _HostState:
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _HostState(rate=self.max_rate or 0.0)
        return state

    def acquire(self, host: str) -> float:
        """Block until a request to ``host`` may be sent; returns its send time (for ``throttled``)."""
        while True:
            with self._lock:
                state = self._state(host)
                now = self.clock()
                start = max(now, state.paused_until)
                if self.max_rate is not None:
                    start = max(start, state.next_free)
                    state.next_free = start + 1.0 / state.rate
                generation = state.generation
            if start > now:
                self.sleep(start - now)
            with self._lock:
                if state.generation == generation:
                    state.waited = start > now
                    return start
            # a 429 arrived while this thread slept on a slot of the old budget: take a new one,
            # or every thread already waiting would still send at the rate the server refused

    def succeeded(self, host: str) -> None:
        if self.max_rate is None:
            return
        with self._lock:
            state = self._state(host)
            # raise the budget only while it is what holds the job back; otherwise a job that is
            # slow for other reasons (CPU, latency) would inflate a rate it never really used
            if state.waited:
                state.rate = min(self.max_rate, state.rate + self.increase)

    def throttled(self, host: str, sent_at: float, retry_after: float | None) -> None:
        """A 429 (or 503 with Retry-After) for a request sent at ``sent_at``."""
        with self._lock:
            state = self._state(host)
            state.throttled += 1
            now = self.clock()
            if retry_after is not None:
                state.paused_until = max(state.paused_until, now + retry_after)
            # a request sent before the last decrease was answered by it already
            decrease = self.max_rate is not None and sent_at > state.last_decrease
            if decrease:
                state.rate = max(self.min_rate, state.rate * self.decrease)
                state.decreases += 1
                state.last_decrease = now
            if decrease or retry_after is not None:
                # every slot handed out so far is void (the threads sleeping on one take a new one):
                # the schedule restarts after the pause, at the new spacing
                state.generation += 1
                state.next_free = max(now + (1.0 / state.rate if decrease else 0.0), state.paused_until)

    def rate(self, host: str) -> float | None:
        with self._lock:
            return self._state(host).rate if self.max_rate is not None else None

    def summary(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {
                host: {"rate": s.rate, "throttled": s.throttled, "decreases": s.decreases}
                for host, s in self._hosts.items()
            }
