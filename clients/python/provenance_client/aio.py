"""AsyncProvenanceClient: ProvenanceClient's calls on grpc.aio, for asyncio programs."""

import asyncio
import datetime
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import grpc
from provenance.v1 import audit_pb2, event_pb2, job_pb2, provenance_service_pb2 as service

from .client import batch_request, get_job_request, lineage_request, lineage_stream_resumes, list_dependents_request, shaping, stream_lineage_request
from .connection import Connected, Connection
from .events import ResumePolicy, Resumption, Subscription
from .lineage_graph import LineageGraph
from .requests import build_request


class AsyncProvenanceClient(Connected):
    """ProvenanceClient for asyncio: the same arguments and methods, each a coroutine.

    The list_* and iter_* methods and watch_events return async iterators
    (async for); close() is a coroutine, and the client an async context
    manager. Make it inside the event loop that uses it (grpc.aio binds the
    channel to it). Errors are grpc.aio.AioRpcError, a grpc.RpcError that
    error_details() decodes.
    """

    def _open_channel(self, address: str, settings: Connection) -> grpc.aio.Channel:
        if settings.credentials is not None:
            return grpc.aio.secure_channel(address, settings.credentials, settings.options)
        return grpc.aio.insecure_channel(address, settings.options)

    async def record_job(self, **fields: Any) -> job_pb2.Job:
        return await self._unary(self.stub.RecordJob, build_request("record_job()", service.RecordJobRequest, fields))

    async def batch_record_jobs(self, requests: Sequence[dict[str, Any]]) -> service.BatchRecordJobsResponse:
        return await self._unary(self.stub.BatchRecordJobs, batch_request("batch_record_jobs()", requests))

    async def submit_job(self, **fields: Any) -> job_pb2.Job:
        return await self._unary(self.stub.SubmitJob, build_request("submit_job()", service.SubmitJobRequest, fields))

    async def rerun_job(self, job_id: str, **fields: Any) -> job_pb2.Job:
        request = build_request("rerun_job()", service.RerunJobRequest, dict(job_id=job_id, **fields))
        return await self._unary(self.stub.RerunJob, request)

    async def cancel_job(self, job_id: str, reason: str = "") -> job_pb2.Job:
        return await self._unary(self.stub.CancelJob, service.CancelJobRequest(job_id=job_id, reason=reason))

    async def set_reader_subjects(self, job_id: str, reader_subjects: list[str], etag: str = "") -> job_pb2.Job:
        """SetReaderSubjects: the job's grants become exactly reader_subjects; [] takes every grant back (the owner's call)."""
        request = build_request("set_reader_subjects()", service.SetReaderSubjectsRequest, dict(job_id=job_id, reader_subjects=reader_subjects, etag=etag))
        return await self._unary(self.stub.SetReaderSubjects, request)

    async def invalidate_cache(self, job_id: str, dry_run: bool = False) -> service.InvalidateCacheResponse:
        return await self._unary(self.stub.InvalidateCache, service.InvalidateCacheRequest(job_id=job_id, dry_run=dry_run))

    async def get_job(self, job_id: str, as_of: datetime.datetime | None = None) -> job_pb2.Job:
        """GetJob; as_of: the job as it was then (naive datetimes are UTC)."""
        return await self._unary(self.stub.GetJob, get_job_request(job_id, as_of))

    async def get_lineage(
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
        return await self._unary(self.stub.GetLineage, lineage_request(job_id, direction, max_depth, max_nodes, view, as_of, shaping(filter, filter_mode, max_children_per_node, max_parents_per_node)))

    async def get_lineage_graph(
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
        return LineageGraph(
            await self.get_lineage(
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

    async def export_provenance_graph(self, job_id: str, **fields: Any) -> service.ExportProvenanceGraphResponse:
        request = build_request("export_provenance_graph()", service.ExportProvenanceGraphRequest, dict(job_id=job_id, **fields))
        return await self._unary(self.stub.ExportProvenanceGraph, request)

    async def check_reproducibility(self, job_id: str) -> service.CheckReproducibilityResponse:
        return await self._unary(self.stub.CheckReproducibility, service.CheckReproducibilityRequest(job_id=job_id))

    async def compare_jobs(self, left_job_id: str, right_job_id: str) -> service.CompareJobsResponse:
        return await self._unary(self.stub.CompareJobs, service.CompareJobsRequest(left_job_id=left_job_id, right_job_id=right_job_id))

    async def list_jobs(self, filter: str | None = None, page_size: int = 0) -> AsyncIterator[list[job_pb2.Job]]:
        async for page in self._pages(self.stub.ListJobs, service.ListJobsRequest(filter=filter or "", page_size=page_size)):
            yield list(page.jobs)

    async def iter_jobs(self, filter: str | None = None, page_size: int = 0) -> AsyncIterator[job_pb2.Job]:
        async for page in self.list_jobs(filter, page_size):
            for job in page:
                yield job

    def list_dependents(self, job_id: str, transitive: bool = False, page_size: int = 0, as_of: datetime.datetime | None = None) -> AsyncIterator[service.ListDependentsResponse]:
        request = list_dependents_request(job_id, transitive, page_size, as_of)
        return self._pages(self.stub.ListDependents, request)

    async def iter_dependents(self, job_id: str, transitive: bool = False, page_size: int = 0, as_of: datetime.datetime | None = None) -> AsyncIterator[service.Dependent]:
        async for page in self.list_dependents(job_id, transitive, page_size, as_of):
            for dependent in page.dependents:
                yield dependent

    async def list_audit_events(self, filter: str | None = None, page_size: int = 0) -> AsyncIterator[list[audit_pb2.AuditEvent]]:
        request = service.ListAuditEventsRequest(filter=filter or "", page_size=page_size)
        async for page in self._pages(self.stub.ListAuditEvents, request):
            yield list(page.audit_events)

    async def iter_audit_events(self, filter: str | None = None, page_size: int = 0) -> AsyncIterator[audit_pb2.AuditEvent]:
        async for page in self.list_audit_events(filter, page_size):
            for audit_event in page:
                yield audit_event

    async def stream_lineage(
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
    ) -> AsyncIterator[service.StreamLineageResponse]:
        """StreamLineage as an async iterator, resuming as ProvenanceClient.stream_lineage does."""
        request = stream_lineage_request(job_id, direction, max_depth, max_message_nodes, resume_token, as_of, shaping(filter, filter_mode, max_children_per_node, max_parents_per_node))
        failed_in_a_row = 0
        while True:
            call = self.stub.StreamLineage(request, timeout=self.timeout, metadata=self.metadata)
            try:
                async for message in call:
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
    ) -> "AsyncEventStream":
        """WatchEvents as an AsyncEventStream: the same filters, resumption and on_resume as ProvenanceClient.watch_events."""
        request = build_request("watch_events()", service.WatchEventsRequest, filters)
        stream = AsyncEventStream(
            lambda resumed: self.stub.WatchEvents(resumed, metadata=self.metadata), request, resume or ResumePolicy(), on_resume
        )
        self._event_streams.add(stream)
        return stream

    async def close(self) -> None:
        """Closes the channel: its event streams end their iteration, other open calls fail with CANCELLED."""
        for stream in list(self._event_streams):
            stream.close()
        await self._channel.close()

    async def __aenter__(self) -> "AsyncProvenanceClient":
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    def _unary(self, method, request):
        return method(request, timeout=self.timeout, metadata=self.metadata)

    async def _pages(self, method, request):
        """The responses of a paged call, following next_page_token, each fetched when reached."""
        while True:
            page = await self._unary(method, request)
            yield page
            if not page.next_page_token:
                return
            request.page_token = page.next_page_token


class AsyncEventStream:
    """EventStream for asyncio: an async iterator over a WatchEvents subscription that resumes the same way.

    close() (from the event loop's thread) or leaving an async with block ends the iteration.
    grpc.aio 1.51 reports empty response headers when the status arrives
    before Python read them, so a call the server registered and ended at
    once, without an event, may count as an attempt that failed before
    registration.
    """

    def __init__(
        self,
        open_call: Callable[[service.WatchEventsRequest], grpc.aio.UnaryStreamCall],
        request: service.WatchEventsRequest,
        resume: ResumePolicy = ResumePolicy(),
        on_resume: Callable[[Resumption], None] | None = None,
    ):
        self._open_call = open_call
        self._subscription = Subscription(request, resume)
        self._on_resume = on_resume
        self._call: grpc.aio.UnaryStreamCall | None = None
        self._closed = asyncio.Event()

    def __aiter__(self) -> AsyncIterator[event_pb2.ProvenanceEvent]:
        return self

    async def __anext__(self) -> event_pb2.ProvenanceEvent:
        while not self._closed.is_set():
            if self._call is None:
                self._call = self._open_call(self._subscription.next_request())
            try:
                response = await self._call.read()
            except asyncio.CancelledError:
                if self._closed.is_set():
                    break  # close() cancelled the call
                raise
            except grpc.RpcError as error:
                if self._closed.is_set():
                    break
                resumption = self._subscription.resumption(error, bool(error.initial_metadata()))
                if resumption is None:
                    self.close()
                    raise
                self._call = None
                if self._on_resume is not None:
                    self._on_resume(resumption)
                try:
                    await asyncio.wait_for(self._closed.wait(), resumption.delay)
                except asyncio.TimeoutError:
                    pass
                continue
            if response is grpc.aio.EOF:
                self.close()
                break
            self._subscription.delivered(response.event)
            return response.event
        raise StopAsyncIteration

    def close(self) -> None:
        self._closed.set()
        if self._call is not None:
            self._call.cancel()

    async def __aenter__(self) -> "AsyncEventStream":
        return self

    async def __aexit__(self, *exc_info) -> None:
        self.close()
