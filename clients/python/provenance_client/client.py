"""ProvenanceClient: channel, credentials and deadlines, and pythonic calls over the generated stub."""

import datetime
import random
import threading
import weakref
from dataclasses import dataclass

import grpc
from google.protobuf import json_format, timestamp_pb2
from google.protobuf.message import Message
from provenance.v1 import event_pb2, provenance_service_pb2, provenance_service_pb2_grpc

from .errors import error_details
from .lineage_graph import LineageGraph

# The service's default PROVENANCE_MAX_MESSAGE_BYTES; grpc's own 4 MiB limit
# would refuse large lineage answers.
_MAX_MESSAGE_BYTES = 64 * 1024 * 1024

# The ErrorInfo reasons (domain provenance.v1) of a RESOURCE_EXHAUSTED that a
# new WatchEvents subscription gets past: the subscriber read too slowly
# (resume after its last cursor), or the principal's rate limit (resume after
# RetryInfo). The others are not resumed: TOO_MANY_SUBSCRIPTIONS (another
# subscription only adds to the pressure and hides a leak in the caller),
# AUTHENTICATION_THROTTLED, BODY_TOO_LARGE, and gRPC's own, which has no
# ErrorInfo (metadata or a message over a limit).
_RESUMABLE_EXHAUSTION_REASONS = frozenset({"SUBSCRIBER_TOO_SLOW", "RATE_LIMITED"})
_ERROR_DOMAIN = "provenance.v1"


class ProvenanceClient:
    """A connection to the provenance service.

    Plaintext by default; TLS when tls=True or when any certificate is given
    (root_certificates: PEM of the CAs to trust, None for the system's;
    private_key and certificate_chain: the client certificate for mTLS).
    token is sent as "authorization: Bearer <token>", api_key as "x-api-key".
    timeout (seconds) is the deadline of every unary call; event streams
    have none. options are more grpc channel arguments, e.g.
    [("grpc.keepalive_time_ms", 30000)]. Errors are grpc.RpcError;
    error_details() decodes them.

    Calls take the request's fields by their proto names, with JSON values
    as the proto3 JSON mapping has them (dicts for Struct and messages, any
    JSON value for Value), datetimes for timestamps, and enum values by
    number, full name or short name ("SUCCEEDED"). They return the
    generated messages.
    """

    def __init__(
        self,
        address,
        *,
        token=None,
        api_key=None,
        root_certificates=None,
        private_key=None,
        certificate_chain=None,
        tls=None,
        timeout=None,
        options=(),
    ):
        certificates_given = any(value is not None for value in (root_certificates, private_key, certificate_chain))
        if tls is False and certificates_given:
            raise ValueError("certificates need TLS: leave tls unset or set it to True")
        options = [
            ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
            *options,
        ]
        if tls or certificates_given:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=root_certificates, private_key=private_key, certificate_chain=certificate_chain
            )
            self._channel = grpc.secure_channel(address, credentials, options)
        else:
            self._channel = grpc.insecure_channel(address, options)
        self.stub = provenance_service_pb2_grpc.ProvenanceServiceStub(self._channel)
        metadata = []
        if token is not None:
            metadata.append(("authorization", f"Bearer {token}"))
        if api_key is not None:
            metadata.append(("x-api-key", api_key))
        # Public, with timeout, for calls this class does not wrap: client.stub.X(request, metadata=client.metadata).
        self.metadata = tuple(metadata)
        self.timeout = timeout
        self._event_streams = weakref.WeakSet()

    def record_job(self, **fields):
        """RecordJob: the provenance of a job that ran elsewhere. Returns the stored Job."""
        return self._unary(self.stub.RecordJob, _request(provenance_service_pb2.RecordJobRequest, fields))

    def submit_job(self, **fields):
        """SubmitJob: a job for the service's workers to run. Returns the Job as queued."""
        return self._unary(self.stub.SubmitJob, _request(provenance_service_pb2.SubmitJobRequest, fields))

    def get_job(self, job_id):
        return self._unary(self.stub.GetJob, provenance_service_pb2.GetJobRequest(job_id=job_id))

    def get_lineage(self, job_id, direction="BOTH", max_depth=0, max_nodes=0, view="BASIC"):
        """GetLineage: direction ANCESTORS, DESCENDANTS or BOTH; view IDS, BASIC, FULL or COMPACT; 0 means the server's limit."""
        request = _request(
            provenance_service_pb2.GetLineageRequest,
            dict(job_id=job_id, direction=direction, max_depth=max_depth, max_nodes=max_nodes, view=view),
        )
        return self._unary(self.stub.GetLineage, request)

    def get_lineage_graph(self, job_id, direction="BOTH", max_depth=0, max_nodes=0):
        """GetLineage in the COMPACT view, as a LineageGraph: the IDS view's nodes and edges, from far fewer bytes."""
        return LineageGraph(self.get_lineage(job_id, direction, max_depth, max_nodes, view="COMPACT"))

    def check_reproducibility(self, job_id):
        return self._unary(self.stub.CheckReproducibility, provenance_service_pb2.CheckReproducibilityRequest(job_id=job_id))

    def list_jobs(self, filter=None, page_size=0):
        """ListJobs, newest first: yields one list of Jobs per page, fetching each page when it is reached."""
        request = provenance_service_pb2.ListJobsRequest(filter=filter or "", page_size=page_size)
        while True:
            page = self._unary(self.stub.ListJobs, request)
            yield list(page.jobs)
            if not page.next_page_token:
                return
            request.page_token = page.next_page_token

    def watch_events(self, *, resume=None, on_resume=None, **filters):
        """WatchEvents: an EventStream of ProvenanceEvents that resumes after a disconnect.

        Filters are WatchEventsRequest fields: job_ids, lineage_of,
        event_types, labels, start_position ("NOW", "OLDEST"), after_cursor.
        resume is a ResumePolicy (by default ResumePolicy()); on_resume, if
        given, is called with a Resumption before each resumption.
        """
        request = _request(provenance_service_pb2.WatchEventsRequest, filters)
        stream = EventStream(
            lambda resumed: self.stub.WatchEvents(resumed, metadata=self.metadata), request, resume or ResumePolicy(), on_resume
        )
        self._event_streams.add(stream)
        return stream

    def close(self):
        """Closes the channel: its event streams end their iteration, other open calls fail with CANCELLED."""
        for stream in list(self._event_streams):
            stream.close()
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _unary(self, method, request):
        return method(request, timeout=self.timeout, metadata=self.metadata)


@dataclass(frozen=True)
class ResumePolicy:
    """How an EventStream resumes after a stream ends with a status it can resume from (see EventStream).

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

    def __init__(self, open_call, request, resume=ResumePolicy(), on_resume=None):
        self._open_call = open_call
        self._request = request
        self._policy = resume
        self._on_resume = on_resume
        # Where the next subscription starts: a cursor to resume after, '' for
        # the oldest event, None for the request as given.
        self._resume_after = None
        self._call = None
        # Whether the current call has delivered an event.
        self._call_delivered = False
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._failures_in_a_row = 0
        self._backoff = resume.initial_delay

    def __iter__(self):
        return self

    def __next__(self):
        while not self._closed.is_set():
            with self._lock:
                if self._closed.is_set():
                    break
                if self._call is None:
                    self._call = self._open_call(self._next_request())
                    self._call_delivered = False
                call = self._call
            try:
                response = next(call)
            except StopIteration:
                self.close()
                raise
            except grpc.RpcError as error:
                if self._closed.is_set():
                    break  # close() cancelled the call
                if self._registered(error):
                    # A successful resubscription, events or not: only calls failing before that count.
                    self._failures_in_a_row = 0
                    self._backoff = self._policy.initial_delay
                if not _resumable(error) or self._out_of_attempts():
                    self.close()
                    raise
                self._resume(error)
                continue
            self._resume_after = response.event.cursor
            self._call_delivered = True
            return response.event
        raise StopIteration

    def close(self):
        with self._lock:
            self._closed.set()
            if self._call is not None:
                self._call.cancel()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _registered(self, call):
        """Whether the server registered the current call's subscription, which it tells by sending the response headers.

        grpcio shows a response without headers (only a status, or none at
        all) as empty initial metadata, so headers that carry metadata (this
        service's carry x-request-id) or an event prove it.
        """
        return self._call_delivered or bool(call.initial_metadata())

    def _out_of_attempts(self):
        max_attempts = self._policy.max_attempts
        return max_attempts is not None and self._failures_in_a_row >= max_attempts

    def _resume(self, error):
        self._failures_in_a_row += 1
        details = error_details(error)
        if self._resume_after is None:
            start_cursor = details.metadata.get("startCursor")
            if start_cursor is not None:
                self._resume_after = start_cursor
        with self._lock:
            self._call = None
        # Half fixed, half random, so that the subscribers a restart ended do not all come back at once.
        jittered = self._backoff / 2 + random.random() * self._backoff / 2
        delay = min(self._policy.max_delay, max(jittered, details.retry_delay or 0))
        self._backoff = min(self._backoff * 2, self._policy.max_delay)
        if self._on_resume is not None:
            self._on_resume(Resumption(error, self._failures_in_a_row, delay, self._next_request()))
        self._closed.wait(delay)

    def _next_request(self):
        request = provenance_service_pb2.WatchEventsRequest()
        request.CopyFrom(self._request)
        if self._resume_after == "":
            request.after_cursor = ""
            request.start_position = event_pb2.START_POSITION_OLDEST
        elif self._resume_after is not None:
            request.after_cursor = self._resume_after
        return request


def _resumable(error):
    """Whether a new call gets past the status that ended one: UNAVAILABLE, or RESOURCE_EXHAUSTED for a reason above."""
    if error.code() == grpc.StatusCode.UNAVAILABLE:
        return True
    if error.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
        return False
    details = error_details(error)
    return details.domain == _ERROR_DOMAIN and details.reason in _RESUMABLE_EXHAUSTION_REASONS


def _request(message_class, fields):
    """A request message from keyword fields (see ProvenanceClient)."""
    descriptors = message_class.DESCRIPTOR.fields_by_name
    json_fields = {
        name: _json_value(descriptors[name], value) if name in descriptors else value for name, value in fields.items()
    }
    # ParseDict names the unknown fields it refuses.
    return json_format.ParseDict(json_fields, message_class())


def _json_value(descriptor, value):
    if isinstance(value, Message):
        return json_format.MessageToDict(value, preserving_proto_field_name=True)
    if isinstance(value, datetime.datetime):
        timestamp = timestamp_pb2.Timestamp()
        timestamp.FromDatetime(value)  # naive datetimes are taken as UTC
        return timestamp.ToJsonString()
    enum = descriptor.enum_type
    if enum is not None and isinstance(value, str) and value not in enum.values_by_name:
        # Enum values are named <PREFIX>_<NAME>, the prefix being that of <PREFIX>_UNSPECIFIED.
        return enum.values[0].name[: -len("UNSPECIFIED")] + value
    return value
