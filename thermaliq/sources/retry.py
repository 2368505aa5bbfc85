"""Retry policy, circuit breakers and counters of the historian connector.

Kept apart from :mod:`thermaliq.sources.historian` (which re-exports everything here) so that the HTTP
code and the failure bookkeeping each stay short. Breakers live in a module registry keyed by
URL, so that a historian that keeps failing is skipped for the rest of the run by every facility
that uses it; :func:`reset_breakers` and :func:`reset_stats` start afresh (tests, a new run).
"""
from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from thermaliq.errors import HistorianError

log = logging.getLogger("thermaliq.sources.historian")

CIRCUIT_STATE_VALUES = {"closed": 0, "open": 1, "half_open": 2}
_lock = threading.Lock()
_STATS: dict = {"connector_timeouts_total": 0, "retries": 0, "requests": 0, "circuit_state": {}}
_BREAKERS: dict[str, "CircuitBreaker"] = {}
#: (monotonic end [s], budget [s]) of the I/O deadline in force, set by :func:`io_deadline`.
_DEADLINE: ContextVar[tuple[float, float] | None] = ContextVar("io_deadline", default=None)


@contextmanager
def io_deadline(seconds: float | None):
    """Bound every connector call made inside (this thread or task) to ``seconds`` [s] from now.

    Each request has its own (connect, read) timeout; the deadline bounds their sum with the
    retries and their waits: no request or retry starts once it has passed (a retry's wait is cut
    to what is left), so a call ends at most one request timeout after it. ``None``: no deadline.
    """
    token = _DEADLINE.set(None if seconds is None else (time.monotonic() + seconds, seconds))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def check_deadline(name: str) -> None:
    """Raise a permanent ``HistorianError`` naming ``name`` if the I/O deadline has passed."""
    deadline = _DEADLINE.get()
    if deadline is not None and time.monotonic() >= deadline[0]:
        increment_stat("connector_timeouts_total")
        raise HistorianError(f"{name}: the I/O deadline of {deadline[1]:g} s (THERMALIQ_IO_TIMEOUT_S) "
                             "passed before the readings were all read", permanent=True)


def deadline_wait_s(wait_s: float) -> float:
    """``wait_s`` [s] cut to the time left before the I/O deadline (unchanged without one)."""
    deadline = _DEADLINE.get()
    return wait_s if deadline is None else max(0.0, min(wait_s, deadline[0] - time.monotonic()))


def stats() -> dict:
    """A copy of the connector's counters (for ``metrics.py``).

    Returns
    -------
    dict
        ``connector_timeouts_total`` (int), ``retries`` (int), ``requests`` (int, HTTP requests
        sent), ``circuit_state`` (dict url -> 0 closed, 1 open, 2 half-open).
    """
    with _lock:
        return {**_STATS, "circuit_state": dict(_STATS["circuit_state"])}


def reset_stats() -> None:
    """Zero the counters (tests, and the start of a new run)."""
    with _lock:
        _STATS.update(connector_timeouts_total=0, retries=0, requests=0, circuit_state={})


def increment_stat(key: str) -> None:
    """Add one to the counter ``key`` of :func:`stats` (``requests``, ``retries``, ``connector_timeouts_total``)."""
    with _lock:
        _STATS[key] += 1


def redact_url(url: str) -> str:
    """URL without user:password, for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, ""))


@dataclass
class RetryPolicy:
    """Retry schedule: ``attempts`` tries, sleeping ``uniform(0, min(max_s, base_s * 2**k))`` [s].

    ``sleep`` is the function used to wait (``time.sleep``; tests may record instead).
    """

    attempts: int = 5
    base_s: float = 0.5
    max_s: float = 30.0
    max_retry_after_s: float = 120.0
    seed: int | None = None
    sleep: Callable[[float], None] = time.sleep
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self):
        if self.attempts < 1:
            raise ValueError(f"attempts must be >= 1, not {self.attempts}")
        self._rng = random.Random(self.seed)

    def delay_s(self, retry: int, retry_after_s: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based) [s]."""
        if retry_after_s is not None:
            return min(max(retry_after_s, 0.0), self.max_retry_after_s)
        return self._rng.uniform(0.0, min(self.max_s, self.base_s * 2 ** retry))


class CircuitBreaker:
    """Consecutive-failure circuit breaker for one historian URL.

    Parameters
    ----------
    url : str
        The historian (used in messages and as the ``circuit_state`` key).
    failure_threshold : int
        Consecutive failed calls that open the circuit.
    cooldown_s : float
        Time the circuit stays open before one trial call [s]; ``inf`` = rest of the run.
    """

    def __init__(self, url: str, failure_threshold: int = 3, cooldown_s: float = math.inf,
                 clock: Callable[[], float] = time.monotonic):
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, not {failure_threshold}")
        self.url, self.failure_threshold, self.cooldown_s = redact_url(url), failure_threshold, cooldown_s
        self._clock = clock
        self.failures = 0
        self.state = "closed"
        self._opened_at = 0.0
        self._publish()

    def _publish(self) -> None:
        with _lock:
            _STATS["circuit_state"][self.url] = CIRCUIT_STATE_VALUES[self.state]

    def before_call(self) -> None:
        """Raise ``HistorianError`` if the circuit is open (moves to half-open after cooldown)."""
        if self.state == "open":
            if self._clock() - self._opened_at < self.cooldown_s:
                raise HistorianError(f"circuit open for historian {self.url}: {self.failures} "
                                     "consecutive failed calls; not calling it again in this run",
                                     permanent=True)
            self.state = "half_open"
            self._publish()

    def record_success(self) -> None:
        self.failures, self.state = 0, "closed"
        self._publish()

    def record_failure(self) -> None:
        self.failures += 1
        if self.state == "half_open" or self.failures >= self.failure_threshold:
            if self.state != "open":
                log.warning("historian %s: circuit opened after %d consecutive failed calls",
                            self.url, self.failures)
            self.state, self._opened_at = "open", self._clock()
        self._publish()

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.url!r}, state={self.state!r}, failures={self.failures})"


def breaker_for(url: str, **kwargs) -> CircuitBreaker:
    """The registry's breaker of ``url`` (created with ``kwargs`` on first use)."""
    key = redact_url(url.rstrip("/"))
    with _lock:
        found = _BREAKERS.get(key)
    if found is None:
        found = CircuitBreaker(key, **kwargs)
        with _lock:
            found = _BREAKERS.setdefault(key, found)
    return found


def reset_breakers() -> None:
    """Forget every breaker (tests, and the start of a new run)."""
    with _lock:
        _BREAKERS.clear()
        _STATS["circuit_state"].clear()


class Retryable(Exception):
    """A transient failure of one request: retried by :func:`call_with_retry`.

    ``what`` says what happened (no secret in it); ``retry_after_s`` is the wait the server asked
    for (HTTP ``Retry-After``) [s], or None for the policy's backoff.
    """

    def __init__(self, what: str, retry_after_s: float | None = None):
        super().__init__(what)
        self.what, self.retry_after_s = what, retry_after_s


def call_with_retry(request: Callable[[], object], retry: RetryPolicy, breaker: CircuitBreaker,
                    name: str, on_retry: Callable[[], None] | None = None):
    """Run ``request`` under the connector policy; return its result.

    ``request`` raises :class:`Retryable` for a transient failure (retried after
    ``retry.delay_s``, ``on_retry`` called first, e.g. to reconnect) and anything else for a
    permanent one (passed through at once). The call counts once with ``breaker``: a success
    closes it, exhausted retries count one failure and raise ``HistorianError`` naming
    ``name`` (a redacted URL or endpoint).
    """
    breaker.before_call()
    last = Retryable("no attempt")
    for attempt in range(retry.attempts):
        check_deadline(name)
        try:
            result = request()
        except Retryable as exc:
            last = exc
            if attempt + 1 < retry.attempts:
                wait = deadline_wait_s(retry.delay_s(attempt, exc.retry_after_s))
                log.warning("%s: %s; retry %d/%d in %.2f s", name, exc.what, attempt + 1,
                            retry.attempts - 1, wait)
                increment_stat("retries")
                retry.sleep(wait)
                if on_retry is not None:
                    on_retry()
            continue
        breaker.record_success()
        return result
    breaker.record_failure()
    raise HistorianError(f"{name}: {last.what} after {retry.attempts} attempt(s)")


__all__ = ["RetryPolicy", "CircuitBreaker", "breaker_for", "reset_breakers", "stats",
           "reset_stats", "CIRCUIT_STATE_VALUES", "Retryable", "call_with_retry"]
