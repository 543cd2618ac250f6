"""ProvenanceClient: channel, credentials and deadlines, and pythonic calls over the generated stub."""

import datetime
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import grpc
from provenance.v1 import audit_pb2, job_pb2, provenance_service_pb2 as service

from .connection import Connected, Connection
from .events import EventStream, ResumePolicy, Resumption
from .lineage_graph import LineageGraph
from .requests import build_request


class ProvenanceClient(Connected):
    """A connection to the provenance service, blocking (AsyncProvenanceClient is the asyncio one).

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
    number, full name or short name ("SUCCEEDED"). An unknown keyword raises
    TypeError, a value of the wrong kind ValueError. They return the
    generated messages.
    """

    def _open_channel(self, address: str, settings: Connection) -> grpc.Channel:
        if settings.credentials is not None:
            return grpc.secure_channel(address, settings.credentials, settings.options)
        return grpc.insecure_channel(address, settings.options)

    def record_job(self, **fields: Any) -> job_pb2.Job:
        """RecordJob: the provenance of a job that ran elsewhere (fields of RecordJobRequest). Returns the stored Job."""
        return self._unary(self.stub.RecordJob, build_request("record_job()", service.RecordJobRequest, fields))

    def batch_record_jobs(self, requests: Sequence[dict[str, Any]]) -> service.BatchRecordJobsResponse:
        """BatchRecordJobs: one RecordJob per dict of RecordJobRequest fields, each with its own result.

        A result's status is a google.rpc.Status (code 0 for a job stored);
        status_details() decodes it as error_details() decodes an error.
        """
        return self._unary(self.stub.BatchRecordJobs, batch_request("batch_record_jobs()", requests))

    def submit_job(self, **fields: Any) -> job_pb2.Job:
        """SubmitJob: a job for the service's workers to run (fields of SubmitJobRequest). Returns the Job as queued."""
        return self._unary(self.stub.SubmitJob, build_request("submit_job()", service.SubmitJobRequest, fields))

    def rerun_job(self, job_id: str, **fields: Any) -> job_pb2.Job:
        """RerunJob: runs a job again as a new job (other fields of RerunJobRequest). Returns the new Job as queued."""
        return self._unary(self.stub.RerunJob, build_request("rerun_job()", service.RerunJobRequest, dict(job_id=job_id, **fields)))

    def cancel_job(self, job_id: str, reason: str = "") -> job_pb2.Job:
        """CancelJob: cancels a queued or running job. Returns the Job."""
        return self._unary(self.stub.CancelJob, service.CancelJobRequest(job_id=job_id, reason=reason))

    def set_reader_subjects(self, job_id: str, reader_subjects: list[str], etag: str = "") -> job_pb2.Job:
        """SetReaderSubjects: the job's grants ("tenant/subject" each) become exactly reader_subjects; [] takes every grant back.

        Only the job's owner may. etag, if given, is the etag the job must
        still have (ABORTED, reason ETAG_MISMATCH, otherwise). Returns the Job.
        """
        request = build_request("set_reader_subjects()", service.SetReaderSubjectsRequest, dict(job_id=job_id, reader_subjects=reader_subjects, etag=etag))
        return self._unary(self.stub.SetReaderSubjects, request)

    def invalidate_cache(self, job_id: str, dry_run: bool = False) -> service.InvalidateCacheResponse:
        """InvalidateCache: the job's output and its dependents' may no longer be reused (dry_run: only say which)."""
        return self._unary(self.stub.InvalidateCache, service.InvalidateCacheRequest(job_id=job_id, dry_run=dry_run))

    def get_job(self, job_id: str, as_of: datetime.datetime | None = None) -> job_pb2.Job:
        """GetJob; as_of: the job as it was then (naive datetimes are UTC)."""
        return self._unary(self.stub.GetJob, get_job_request(job_id, as_of))

    def get_lineage(
        self,
        job_id: str,
        direction: str | int = "BOTH",
        max_depth: int = 0,
        max_nodes: int = 0,
        view: str | int = "BASIC",
        *,
        filter: str = "",
        filter_mode: str | int = 0,
        max_children_per_node: int = 0,
        max_parents_per_node: int = 0,
        as_of: datetime.datetime | None = None,
    ) -> service.GetLineageResponse:
        """GetLineage: direction ANCESTORS, DESCENDANTS or BOTH; view IDS, BASIC, FULL or COMPACT; 0 means the server's limit.

        filter (ListJobs syntax) keeps the matching jobs, filter_mode COLLAPSE (default) or PRUNE says what
        happens to the others; max_children_per_node and max_parents_per_node cap each job's fan-out (0: none).
        """
        return self._unary(self.stub.GetLineage, lineage_request(job_id, direction, max_depth, max_nodes, view, as_of, shaping(filter, filter_mode, max_children_per_node, max_parents_per_node)))

    def get_lineage_graph(
        self,
        job_id: str,
        direction: str | int = "BOTH",
        max_depth: int = 0,
        max_nodes: int = 0,
        *,
        filter: str = "",
        filter_mode: str | int = 0,
        max_children_per_node: int = 0,
        max_parents_per_node: int = 0,
        as_of: datetime.datetime | None = None,
    ) -> LineageGraph:
        """GetLineage in the COMPACT view, as a LineageGraph: the IDS view's nodes and edges, from far fewer bytes."""
        return LineageGraph(
            self.get_lineage(
                job_id,
                direction,
                max_depth,
                max_nodes,
                view="COMPACT",
                filter=filter,
                filter_mode=filter_mode,
                max_children_per_node=max_children_per_node,
                max_parents_per_node=max_parents_per_node,
                as_of=as_of,
            )
        )

    def export_provenance_graph(self, job_id: str, **fields: Any) -> service.ExportProvenanceGraphResponse:
        """ExportProvenanceGraph: the job's lineage whole, or rendered (other fields of the request: direction, max_depth, format)."""
        request = build_request("export_provenance_graph()", service.ExportProvenanceGraphRequest, dict(job_id=job_id, **fields))
        return self._unary(self.stub.ExportProvenanceGraph, request)

    def check_reproducibility(self, job_id: str) -> service.CheckReproducibilityResponse:
        return self._unary(self.stub.CheckReproducibility, service.CheckReproducibilityRequest(job_id=job_id))

    def compare_jobs(self, left_job_id: str, right_job_id: str) -> service.CompareJobsResponse:
        """CompareJobs: why two jobs differ (typically a job and its rerun), and where their lineages diverge."""
        return self._unary(self.stub.CompareJobs, service.CompareJobsRequest(left_job_id=left_job_id, right_job_id=right_job_id))

    def list_jobs(self, filter: str | None = None, page_size: int = 0) -> Iterator[list[job_pb2.Job]]:
        """ListJobs, newest first: yields one list of Jobs per page, fetching each page when it is reached."""
        for page in self._pages(self.stub.ListJobs, service.ListJobsRequest(filter=filter or "", page_size=page_size)):
            yield list(page.jobs)

    def iter_jobs(self, filter: str | None = None, page_size: int = 0) -> Iterator[job_pb2.Job]:
        """ListJobs, newest first: yields every Job across the pages, fetching each page when it is reached."""
        for page in self.list_jobs(filter, page_size):
            yield from page

    def list_dependents(self, job_id: str, transitive: bool = False, page_size: int = 0, as_of: datetime.datetime | None = None) -> Iterator[service.ListDependentsResponse]:
        """ListDependents: yields each page as the ListDependentsResponse (dependents, truncated, hidden_node_count)."""
        request = list_dependents_request(job_id, transitive, page_size, as_of)
        return self._pages(self.stub.ListDependents, request)

    def iter_dependents(self, job_id: str, transitive: bool = False, page_size: int = 0, as_of: datetime.datetime | None = None) -> Iterator[service.Dependent]:
        """ListDependents: yields every Dependent across the pages."""
        for page in self.list_dependents(job_id, transitive, page_size, as_of):
            yield from page.dependents

    def list_audit_events(self, filter: str | None = None, page_size: int = 0) -> Iterator[list[audit_pb2.AuditEvent]]:
        """ListAuditEvents: yields one list of AuditEvents per page (an admin's call)."""
        for page in self._pages(self.stub.ListAuditEvents, service.ListAuditEventsRequest(filter=filter or "", page_size=page_size)):
            yield list(page.audit_events)

    def iter_audit_events(self, filter: str | None = None, page_size: int = 0) -> Iterator[audit_pb2.AuditEvent]:
        """ListAuditEvents: yields every AuditEvent across the pages."""
        for page in self.list_audit_events(filter, page_size):
            yield from page

    def stream_lineage(
        self,
        job_id: str,
        direction: str | int = "BOTH",
        max_depth: int = 0,
        max_message_nodes: int = 0,
        resume_token: str = "",
        *,
        filter: str = "",
        filter_mode: str | int = 0,
        max_children_per_node: int = 0,
        max_parents_per_node: int = 0,
        as_of: datetime.datetime | None = None,
    ) -> Iterator[service.StreamLineageResponse]:
        """StreamLineage: the lineage nearest first, in messages of at most max_message_nodes nodes (0: the server's 1,000).

        A stream that fails UNAVAILABLE is opened again with the resume token
        of the last message received, so every node and edge comes once; it
        gives up after LINEAGE_STREAM_ATTEMPTS failures in a row without a
        message. resume_token starts after a message an earlier iteration
        processed. The client's timeout is the deadline of each call.
        """
        request = stream_lineage_request(job_id, direction, max_depth, max_message_nodes, resume_token, as_of, shaping(filter, filter_mode, max_children_per_node, max_parents_per_node))
        failed_in_a_row = 0
        while True:
            call = self.stub.StreamLineage(request, timeout=self.timeout, metadata=self.metadata)
            try:
                for message in call:
                    failed_in_a_row = 0
                    request.resume_token = message.resume_token
                    yield message
                    if message.last:
                        return
                return
            except grpc.RpcError as error:
                failed_in_a_row += 1
                if not lineage_stream_resumes(error, failed_in_a_row):
                    raise
            finally:
                call.cancel()

    def watch_events(
        self, *, resume: ResumePolicy | None = None, on_resume: Callable[[Resumption], None] | None = None, **filters: Any
    ) -> EventStream:
        """WatchEvents: an EventStream of ProvenanceEvents that resumes after a disconnect.

        Filters are WatchEventsRequest fields: job_ids, lineage_of,
        event_types, labels, start_position ("NOW", "OLDEST"), after_cursor.
        resume is a ResumePolicy (by default ResumePolicy()); on_resume, if
        given, is called with a Resumption before each resumption.
        """
        request = build_request("watch_events()", service.WatchEventsRequest, filters)
        stream = EventStream(
            lambda resumed: self.stub.WatchEvents(resumed, metadata=self.metadata), request, resume or ResumePolicy(), on_resume
        )
        self._event_streams.add(stream)
        return stream

    def close(self) -> None:
        """Closes the channel: its event streams end their iteration, other open calls fail with CANCELLED."""
        for stream in list(self._event_streams):
            stream.close()
        self._channel.close()

    def __enter__(self) -> "ProvenanceClient":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _unary(self, method, request):
        return method(request, timeout=self.timeout, metadata=self.metadata)

    def _pages(self, method, request):
        """The responses of a paged call, following next_page_token, each fetched when reached."""
        while True:
            page = self._unary(method, request)
            yield page
            if not page.next_page_token:
                return
            request.page_token = page.next_page_token


def shaping(filter: str, filter_mode: str | int, max_children_per_node: int, max_parents_per_node: int) -> dict[str, Any]:
    """The lineage filter (ListJobs syntax), its mode (COLLAPSE or PRUNE) and the fan-out caps (0: none), as request fields."""
    return dict(filter=filter, filter_mode=filter_mode, max_children_per_node=max_children_per_node, max_parents_per_node=max_parents_per_node)


def as_of_field(as_of: datetime.datetime | None) -> dict[str, Any]:
    """The as_of field of a request (the answer as it was then; naive datetimes are UTC), or none."""
    return {} if as_of is None else dict(as_of=as_of)


def get_job_request(job_id: str, as_of: datetime.datetime | None) -> service.GetJobRequest:
    return build_request("get_job()", service.GetJobRequest, dict(job_id=job_id, **as_of_field(as_of)))


def lineage_request(
    job_id: str, direction: str | int, max_depth: int, max_nodes: int, view: str | int, as_of: datetime.datetime | None = None, shaping: dict[str, Any] | None = None
) -> service.GetLineageRequest:
    fields = dict(job_id=job_id, direction=direction, max_depth=max_depth, max_nodes=max_nodes, view=view, **as_of_field(as_of), **(shaping or {}))
    return build_request("get_lineage()", service.GetLineageRequest, fields)


def list_dependents_request(job_id: str, transitive: bool, page_size: int, as_of: datetime.datetime | None) -> service.ListDependentsRequest:
    fields = dict(job_id=job_id, transitive=transitive, page_size=page_size, **as_of_field(as_of))
    return build_request("list_dependents()", service.ListDependentsRequest, fields)


#: How many times in a row a lineage stream is resumed without receiving a message before its failure is raised.
LINEAGE_STREAM_ATTEMPTS = 3


def stream_lineage_request(
    job_id: str,
    direction: str | int,
    max_depth: int,
    max_message_nodes: int,
    resume_token: str,
    as_of: datetime.datetime | None = None,
    shaping: dict[str, Any] | None = None,
) -> service.StreamLineageRequest:
    fields = dict(
        job_id=job_id, direction=direction, max_depth=max_depth, max_message_nodes=max_message_nodes, resume_token=resume_token, **as_of_field(as_of), **(shaping or {})
    )
    return build_request("stream_lineage()", service.StreamLineageRequest, fields)


def lineage_stream_resumes(error: grpc.RpcError, failed_in_a_row: int) -> bool:
    """Whether stream_lineage opens the stream again after this failure, the failed_in_a_row-th without a message."""
    return error.code() == grpc.StatusCode.UNAVAILABLE and failed_in_a_row < LINEAGE_STREAM_ATTEMPTS


def batch_request(method: str, requests: Sequence[dict[str, Any]]) -> service.BatchRecordJobsRequest:
    return service.BatchRecordJobsRequest(requests=[build_request(f"{method} requests[{i}]", service.RecordJobRequest, fields) for i, fields in enumerate(requests)])
