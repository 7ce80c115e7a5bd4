"""Retrying a Qdrant server's transient failures: exponential backoff, full jitter, one total deadline.

Transient: the connection was refused, reset or timed out (httpx or gRPC), or the server answered
5xx or 429 (a 429's ``Retry-After`` is honoured). Everything else (4xx, validation errors) fails at
once. Retrying writes is safe because legalrag's point ids are deterministic: an upsert that
reached the server before its connection broke writes the same points again, never duplicates.

The core is pure: :meth:`RetryPolicy.delay` decides the next wait from the attempt number, the
time spent and the server's ``Retry-After``; clock, sleep and randomness are injectable.

Example:
    >>> policy = RetryPolicy(budget=2.0)
    >>> policy.run(lambda: "ok")
    'ok'
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from qdrant_client.common.client_exceptions import ResourceExhaustedResponse
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from legalrag.plugin.redact import redact

__all__ = ["RetriesExhausted", "RetryPolicy", "describe_error", "transient_wait"]

T = TypeVar("T")

logger = logging.getLogger(__name__)

#: gRPC status codes worth another try (the server is down, overloaded or too slow)
_GRPC_TRANSIENT = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "ABORTED"})
#: transport errors that say the request never completed, not that it was malformed
_TRANSPORT = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    ConnectionError,
    TimeoutError,
)
#: 5xx codes that will not change on a retry
_PERMANENT_5XX = frozenset({501, 505})


class RetriesExhausted(Exception):
    """A transient failure outlasted the retry budget; ``last`` is the final error."""

    def __init__(self, last: BaseException, attempts: int, elapsed: float) -> None:
        super().__init__(f"gave up after {attempts} attempt(s) in {elapsed:.1f} s: {describe_error(last)}")
        self.last = last
        self.attempts = attempts
        self.elapsed = elapsed


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry transient failures until ``budget`` seconds have passed since the first attempt.

    The n-th wait (n from 0) is uniform in ``[0, min(cap, base * 2**n)]`` ("full jitter"), or the
    server's ``Retry-After`` when that is longer. No attempt starts after the deadline, so a call
    takes at most ``budget`` plus one request (bounded by the client's timeout).

    Args:
        budget: total seconds for retries; 0 tries once.
        base: the first wait's upper bound, in seconds.
        cap: the largest upper bound of one wait.
        clock: monotonic seconds (a fake in tests).
        sleep: waits that many seconds (a fake in tests).
        random: uniform in [0, 1) (a fake in tests).

    Example:
        >>> RetryPolicy(budget=10, base=1, cap=4, random=lambda: 1.0).delay(3, elapsed=0.0)
        4.0
    """

    budget: float = 30.0
    base: float = 0.25
    cap: float = 5.0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    random: Callable[[], float] = field(default=random.random, repr=False)

    def delay(self, attempt: int, *, elapsed: float, retry_after: float = 0.0) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None`` when the deadline forbids it.

        A jittered wait that would end past the deadline is cut short, so the last attempt starts
        at the deadline; a ``retry_after`` past the deadline gives up at once (the server said no).
        """
        remaining = self.budget - elapsed
        if remaining <= 0 or retry_after > remaining:
            return None
        ceiling = min(self.cap, self.base * 2.0 ** min(attempt, 62))
        return min(max(self.random() * ceiling, retry_after), remaining)

    def run(self, call: Callable[[], T], *, classify: Callable[[BaseException], float | None] | None = None) -> T:
        """Return ``call()``, retrying while ``classify`` (default :func:`transient_wait`) says transient.

        Raises:
            RetriesExhausted: a transient failure lasted past the budget.
            Exception: the first non-transient error, unchanged.
        """
        start = self.clock()
        attempt = 0
        while True:
            try:
                return call()
            except Exception as exc:
                wait = self.after_failure(exc, attempt, start, classify)
            self.sleep(wait)
            attempt += 1

    async def arun(
        self, call: Callable[[], Awaitable[T]], *, classify: Callable[[BaseException], float | None] | None = None
    ) -> T:
        """:meth:`run` for coroutines: the same classification, schedule and deadline; awaited sleeps."""
        start = self.clock()
        attempt = 0
        while True:
            try:
                return await call()
            except Exception as exc:
                wait = self.after_failure(exc, attempt, start, classify)
            await asyncio.sleep(wait)
            attempt += 1

    def after_failure(
        self,
        exc: Exception,
        attempt: int,
        start: float,
        classify: Callable[[BaseException], float | None] | None = None,
    ) -> float:
        """The wait before retrying after ``exc`` failed attempt ``attempt`` (from 0) of a call begun at ``start``.

        The one decision both :meth:`run` and :meth:`arun` make. Call it inside the ``except`` block.

        Raises:
            RetriesExhausted: ``exc`` is transient but the budget is spent.
            Exception: ``exc`` itself, when it is not transient.
        """
        retry_after = (classify or transient_wait)(exc)
        if retry_after is None:
            raise exc
        elapsed = self.clock() - start
        wait = self.delay(attempt, elapsed=elapsed, retry_after=retry_after)
        if wait is None:
            raise RetriesExhausted(exc, attempt + 1, elapsed) from exc
        logger.debug("transient failure (%s): attempt %d in %.2f s", describe_error(exc), attempt + 2, wait)
        return wait


def transient_wait(exc: BaseException) -> float | None:
    """``None`` if ``exc`` is not transient, else the least wait the server asked for (0 if none)."""
    for error in _chain(exc):
        if isinstance(error, ResourceExhaustedResponse):
            return float(error.retry_after_s)
        if isinstance(error, UnexpectedResponse):
            return _status_wait(error)
        if isinstance(error, (*_TRANSPORT, json.JSONDecodeError)):
            # a server answering garbage (a proxy's HTML page, a cut body) is a server fault: retried like a 5xx
            return 0.0
        code = _grpc_code(error)
        if code is not None:
            return 0.0 if code in _GRPC_TRANSIENT else None
    return None


def describe_error(exc: BaseException) -> str:
    """One line naming what went wrong, e.g. ``ConnectError: [Errno 111] Connection refused``."""
    if isinstance(exc, ResponseHandlingException):
        exc = exc.source
    if isinstance(exc, UnexpectedResponse):
        # redact the whole body before cutting it: a key straddling the cut would otherwise show in part
        body = redact(exc.content.decode("utf-8", "replace"))[:160]
        text = f"HTTP {exc.status_code} {exc.reason_phrase}" + (f": {body}" if body else "")
    elif _grpc_code(exc) is not None:
        details = getattr(exc, "details", None)
        text = f"gRPC {_grpc_code(exc)}: {details() if callable(details) else exc}"
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return " ".join(text.split())


def _status_wait(error: UnexpectedResponse) -> float | None:
    status = error.status_code or 0
    if status == 429:
        return _retry_after(error.headers.get("retry-after") if error.headers is not None else None)
    if status >= 500 and status not in _PERMANENT_5XX:
        return 0.0
    return None


def _retry_after(value: str | None) -> float:
    # Qdrant sends delta-seconds; an HTTP-date (or junk) falls back to the policy's own backoff
    try:
        return max(0.0, float(value)) if value is not None else 0.0
    except ValueError:
        return 0.0


def _grpc_code(error: BaseException) -> str | None:
    code = getattr(error, "code", None)
    if not callable(code):
        return None
    try:
        name = getattr(code(), "name", None)
    except Exception:
        return None
    return name if isinstance(name, str) else None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, what it wraps (``ResponseHandlingException.source``) and its explicit causes, each once.

    ``__context__`` is left out: an error raised while handling a timeout is not itself a timeout.
    """
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        error = todo.pop(0)
        if not isinstance(error, BaseException) or id(error) in seen:
            continue
        seen.add(id(error))
        yield error
        todo.extend([getattr(error, "source", None), error.__cause__])
