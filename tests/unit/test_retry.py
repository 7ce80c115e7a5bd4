"""The retry core with a fake clock: backoff bounds, the deadline, Retry-After, what counts as transient."""

from __future__ import annotations

import httpx
import pytest
from qdrant_client.common.client_exceptions import ResourceExhaustedResponse
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from legalrag.plugin.redact import display_url, redact, register_secret
from legalrag.plugin.store.retry import RetriesExhausted, RetryPolicy, describe_error, transient_wait


class FakeClock:
    """Monotonic time that only moves when the policy sleeps (or a call takes ``cost`` seconds)."""

    def __init__(self, cost: float = 0.0) -> None:
        self.now = 0.0
        self.cost = cost
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def policy(clock: FakeClock, budget: float = 10.0, jitter: float = 1.0) -> RetryPolicy:
    return RetryPolicy(budget=budget, base=0.5, cap=4.0, clock=clock.clock, sleep=clock.sleep, random=lambda: jitter)


def response(status: int, **headers: str) -> UnexpectedResponse:
    return UnexpectedResponse(status, "reason", b'{"status":{"error":"x"}}', httpx.Headers(headers))


def flaky(clock: FakeClock, errors: list[BaseException]) -> object:
    def call() -> str:
        clock.now += clock.cost
        if errors:
            raise errors.pop(0)
        return "ok"

    return call


def test_success_needs_no_sleep() -> None:
    clock = FakeClock()
    assert policy(clock).run(lambda: 42) == 42
    assert clock.sleeps == []


def test_exponential_ceilings_with_full_jitter() -> None:
    clock = FakeClock()
    errors: list[BaseException] = [httpx.ConnectError("refused")] * 5
    assert policy(clock, budget=100).run(flaky(clock, errors)) == "ok"  # type: ignore[arg-type]
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0, 4.0]  # jitter 1.0 shows the ceilings: base*2**n, capped


def test_jitter_scales_the_wait() -> None:
    assert RetryPolicy(base=1, cap=8, random=lambda: 0.25).delay(3, elapsed=0) == 2.0
    assert RetryPolicy(base=1, cap=8, random=lambda: 0.0).delay(3, elapsed=0) == 0.0


def test_deadline_bounds_the_total_and_reports_attempts() -> None:
    clock = FakeClock(cost=0.3)
    errors: list[BaseException] = [httpx.ConnectError("refused")] * 100
    with pytest.raises(RetriesExhausted) as err:
        policy(clock, budget=5.0).run(flaky(clock, errors))  # type: ignore[arg-type]
    # the last wait is cut short so that the last attempt starts at the deadline
    assert sum(clock.sleeps) + 0.3 * err.value.attempts <= 5.0 + 0.3 + 1e-9
    assert err.value.attempts == len(clock.sleeps) + 1
    assert isinstance(err.value.last, httpx.ConnectError)
    assert "ConnectError: refused" in str(err.value)


def test_budget_zero_tries_once() -> None:
    clock = FakeClock()
    with pytest.raises(RetriesExhausted) as err:
        policy(clock, budget=0).run(flaky(clock, [httpx.ReadTimeout("slow")]))  # type: ignore[arg-type]
    assert err.value.attempts == 1 and clock.sleeps == []


def test_retry_after_is_honoured_and_past_the_deadline_gives_up() -> None:
    clock = FakeClock()
    errors: list[BaseException] = [response(429, **{"Retry-After": "3"})]
    assert policy(clock, jitter=0.0).run(flaky(clock, errors)) == "ok"  # type: ignore[arg-type]
    assert clock.sleeps == [3.0]
    clock = FakeClock()
    with pytest.raises(RetriesExhausted):
        policy(clock, budget=2).run(flaky(clock, [ResourceExhaustedResponse("slow down", 30)]))  # type: ignore[arg-type]
    assert clock.sleeps == []


def test_non_transient_errors_are_raised_at_once() -> None:
    clock = FakeClock()
    for error in (response(400), response(404), response(401), ValueError("bad"), response(501)):
        with pytest.raises(type(error)):
            policy(clock).run(flaky(clock, [error]))  # type: ignore[arg-type]
    assert clock.sleeps == []


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        ResponseHandlingException(httpx.ConnectError("refused")),
        ConnectionResetError(104, "reset"),
        TimeoutError("timed out"),
        response(500),
        response(502),
        response(503),
        response(504),
        response(429),
    ],
)
def test_transient_errors(error: BaseException) -> None:
    assert transient_wait(error) == 0.0


def test_wrapped_causes_are_followed_but_not_implicit_context() -> None:
    try:
        raise RuntimeError("wrapper") from httpx.ConnectTimeout("slow")
    except RuntimeError as exc:
        assert transient_wait(exc) == 0.0
    try:
        try:
            raise httpx.ConnectError("refused")
        except httpx.ConnectError:
            raise ValueError("a bug while handling it")  # noqa: B904 - the implicit context is the point
    except ValueError as exc:
        assert transient_wait(exc) is None


class FakeRpcError(Exception):
    def __init__(self, name: str) -> None:
        self._name = name

    def code(self) -> object:
        return type("Code", (), {"name": self._name})()

    def details(self) -> str:
        return "upstream connect error"


def test_grpc_status_codes() -> None:
    assert transient_wait(FakeRpcError("UNAVAILABLE")) == 0.0
    assert transient_wait(FakeRpcError("DEADLINE_EXCEEDED")) == 0.0
    assert transient_wait(FakeRpcError("INVALID_ARGUMENT")) is None
    assert describe_error(FakeRpcError("UNAVAILABLE")) == "gRPC UNAVAILABLE: upstream connect error"


def test_describe_error_is_one_line() -> None:
    assert describe_error(ResponseHandlingException(httpx.ConnectError("[Errno 111] Connection refused"))) == (
        "ConnectError: [Errno 111] Connection refused"
    )
    assert describe_error(response(503)) == 'HTTP 503 reason: {"status":{"error":"x"}}'


def test_redaction() -> None:
    register_secret("k-9f8e7d6c5b4a")
    assert redact("key k-9f8e7d6c5b4a in text") == "key *** in text"
    assert redact("headers={'api-key': 'other-secret'}") == "headers={'api-key': '***'}"
    assert redact("Authorization: Bearer abc.def") == "Authorization: Bearer ***"
    assert display_url("https://user:pw@qdrant.example:6333/x") == "https://qdrant.example:6333/x"
