"""WatchEvents subscriptions that resume after a disconnect: the policy and its bookkeeping, and the blocking EventStream."""

import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
from provenance.v1 import event_pb2, provenance_service_pb2

from .errors import error_details

# The ErrorInfo reasons (domain provenance.v1) of a RESOURCE_EXHAUSTED that a
# new WatchEvents subscription gets past: the subscriber read too slowly
# (resume after its last cursor), or the principal's rate limit (resume after
# RetryInfo). The others are not resumed: TOO_MANY_SUBSCRIPTIONS (another
# subscription only adds to the pressure and hides a leak in the caller),
# AUTHENTICATION_THROTTLED, BODY_TOO_LARGE, and gRPC's own, which has no
# ErrorInfo (metadata or a message over a limit).
_RESUMABLE_EXHAUSTION_REASONS = frozenset({"SUBSCRIBER_TOO_SLOW", "RATE_LIMITED"})
_ERROR_DOMAIN = "provenance.v1"


@dataclass(frozen=True)
class ResumePolicy:
    """How an event stream resumes after a stream ends with a status it can resume from (see EventStream).

    max_attempts: the most resumptions in a row that may fail before the
    server registers the subscription (it sends the response headers then);
    when that many have, the last one's error is raised. A call the server
    registered starts the count again however it ends, events or not, so a
    quiet stream outlives any number of server restarts that each take fewer
    attempts. None (the default): no limit, close() the stream to give up.

    initial_delay: seconds before the first resumption; the delay doubles
    with each failure in a row, up to max_delay, and starts again after a
    registered call. Each wait is between half the delay and all of it, at
    random, and at least the RetryInfo delay the server asks for, up to
    max_delay.
    """

    max_attempts: int | None = None
    initial_delay: float = 0.1
    max_delay: float = 5.0


@dataclass(frozen=True)
class Resumption:
    """What on_resume is told before each resumption."""

    # How the previous call ended (UNAVAILABLE, or RESOURCE_EXHAUSTED with
    # reason SUBSCRIBER_TOO_SLOW or RATE_LIMITED).
    error: grpc.RpcError
    # 1 for the first resumption after the first call or after a call the
    # server registered, counting up while calls fail before being registered.
    attempt: int
    # Seconds until the next call.
    delay: float
    # The WatchEventsRequest the next call makes.
    request: provenance_service_pb2.WatchEventsRequest


class Subscription:
    """Where a subscription resumes, and whether and when it may: the bookkeeping EventStream and AsyncEventStream share."""

    def __init__(self, request: provenance_service_pb2.WatchEventsRequest, policy: ResumePolicy):
        self._request = request
        self._policy = policy
        # Where the next subscription starts: a cursor to resume after, '' for
        # the oldest event, None for the request as given.
        self._resume_after: str | None = None
        # Whether the current call has delivered an event.
        self._call_delivered = False
        self._failures_in_a_row = 0
        self._backoff = policy.initial_delay

    def next_request(self) -> provenance_service_pb2.WatchEventsRequest:
        """The request of the next call, which also starts it: it has delivered nothing yet."""
        self._call_delivered = False
        return self._resumed_request()

    def delivered(self, event: event_pb2.ProvenanceEvent) -> None:
        self._resume_after = event.cursor
        self._call_delivered = True

    def resumption(self, error: grpc.RpcError, headers_carry_metadata: bool) -> Resumption | None:
        """How to resume after the call ended with error, or None when error is to be raised.

        The server registered the call when it sent the response headers.
        grpcio shows a response without headers (only a status, or none at
        all) as empty initial metadata, so headers that carry metadata (this
        service's carry x-request-id) or an event prove it.
        """
        if self._call_delivered or headers_carry_metadata:
            # A successful resubscription, events or not: only calls failing before that count.
            self._failures_in_a_row = 0
            self._backoff = self._policy.initial_delay
        max_attempts = self._policy.max_attempts
        if not _resumable(error) or (max_attempts is not None and self._failures_in_a_row >= max_attempts):
            return None
        self._failures_in_a_row += 1
        details = error_details(error)
        if self._resume_after is None:
            start_cursor = details.metadata.get("startCursor")
            if start_cursor is not None:
                self._resume_after = start_cursor
        # Half fixed, half random, so that the subscribers a restart ended do not all come back at once.
        jittered = self._backoff / 2 + random.random() * self._backoff / 2
        delay = min(self._policy.max_delay, max(jittered, details.retry_delay or 0))
        self._backoff = min(self._backoff * 2, self._policy.max_delay)
        return Resumption(error, self._failures_in_a_row, delay, self._resumed_request())

    def _resumed_request(self) -> provenance_service_pb2.WatchEventsRequest:
        request = provenance_service_pb2.WatchEventsRequest()
        request.CopyFrom(self._request)
        if self._resume_after == "":
            request.after_cursor = ""
            request.start_position = event_pb2.START_POSITION_OLDEST
        elif self._resume_after is not None:
            request.after_cursor = self._resume_after
        return request


class EventStream:
    """Iterator over the events of a WatchEvents subscription.

    When the stream ends with UNAVAILABLE, or with RESOURCE_EXHAUSTED for a
    subscriber too slow or a rate limit (ErrorInfo reason SUBSCRIBER_TOO_SLOW,
    RATE_LIMITED), it opens a new one right after the last event it
    delivered (or, when it delivered none, where the server says the
    subscription began), waiting as its ResumePolicy says, so no event is
    lost or repeated. Other errors (TOO_MANY_SUBSCRIPTIONS and every other
    RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, OUT_OF_RANGE ...) are raised, as is a resumable one after max_attempts resumptions in a row
    that all failed before the server registered them. close() (from any
    thread) or leaving a with block ends the iteration.
    """

    def __init__(
        self,
        open_call: Callable[[provenance_service_pb2.WatchEventsRequest], grpc.Call],
        request: provenance_service_pb2.WatchEventsRequest,
        resume: ResumePolicy = ResumePolicy(),
        on_resume: Callable[[Resumption], None] | None = None,
    ):
        self._open_call = open_call
        self._subscription = Subscription(request, resume)
        self._on_resume = on_resume
        # The open call: an iterator of WatchEventsResponse that is also a grpc.Call (grpcio has no type stubs).
        self._call: Any = None
        self._closed = threading.Event()
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[event_pb2.ProvenanceEvent]:
        return self

    def __next__(self) -> event_pb2.ProvenanceEvent:
        while not self._closed.is_set():
            with self._lock:
                if self._closed.is_set():
                    break
                if self._call is None:
                    self._call = self._open_call(self._subscription.next_request())
                call = self._call
            try:
                response = next(call)
            except StopIteration:
                self.close()
                raise
            except grpc.RpcError as error:
                if self._closed.is_set():
                    break  # close() cancelled the call
                resumption = self._subscription.resumption(error, bool(error.initial_metadata()))
                if resumption is None:
                    self.close()
                    raise
                with self._lock:
                    self._call = None
                if self._on_resume is not None:
                    self._on_resume(resumption)
                self._closed.wait(resumption.delay)
                continue
            self._subscription.delivered(response.event)
            return response.event
        raise StopIteration

    def close(self) -> None:
        with self._lock:
            self._closed.set()
            if self._call is not None:
                self._call.cancel()

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _resumable(error: grpc.RpcError) -> bool:
    """Whether a new call gets past the status that ended one: UNAVAILABLE, or RESOURCE_EXHAUSTED for a reason above."""
    if error.code() == grpc.StatusCode.UNAVAILABLE:
        return True
    if error.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
        return False
    details = error_details(error)
    return details.domain == _ERROR_DOMAIN and details.reason in _RESUMABLE_EXHAUSTION_REASONS
