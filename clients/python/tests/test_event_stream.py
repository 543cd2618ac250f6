"""EventStream's and AsyncEventStream's resuming, against an in-process server that ends streams the way the service does
when it loses Redis (UNAVAILABLE), drops a slow subscriber or rate-limits one (RESOURCE_EXHAUSTED), or ends one
in a way it cannot resume from."""

import datetime
import unittest
from concurrent import futures
from typing import NamedTuple

import grpc
from google.protobuf import duration_pb2

from provenance_client import AsyncProvenanceClient, ProvenanceClient, ResumePolicy, error_details

from google.rpc import error_details_pb2, status_pb2
from provenance.v1 import event_pb2, provenance_service_pb2, provenance_service_pb2_grpc

UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
RESOURCE_EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
NO_DETAILS = object()
# Resumption delays short enough for tests that do not look at them.
QUICK = ResumePolicy(initial_delay=0.001, max_delay=0.01)


class Step(NamedTuple):
    """One WatchEvents call of a script: the events it sends, then how it ends.

    ending is None (the stream ends OK) or (code, start_cursor): the status,
    with an ErrorInfo of the given reason and domain and the metadata the
    service adds (startCursor), or with no ErrorInfo at all when start_cursor
    is NO_DETAILS. The response headers go out before the first event;
    registered sends them with no event, as the service does once it has
    registered a subscription.
    """

    cursors: list
    ending: tuple | None
    registered: bool = False
    retry_delay: float | None = None
    reason: str = "EVENTS_UNAVAILABLE"
    domain: str = "provenance.v1"


class ScriptedWatchEvents(provenance_service_pb2_grpc.ProvenanceServiceServicer):
    """Answers each WatchEvents call with the next Step of its script (a Step or a (cursors, ending) pair)."""

    def __init__(self, script):
        self.script = list(script)
        self.requests = []
        self.metadata = []

    def WatchEvents(self, request, context):
        self.requests.append(request)
        self.metadata.append(dict(context.invocation_metadata()))
        step = Step(*self.script.pop(0))
        if step.registered:
            context.send_initial_metadata((("x-request-id", f"scripted-{len(self.requests)}"),))
        for cursor in step.cursors:
            yield provenance_service_pb2.WatchEventsResponse(event=event_pb2.ProvenanceEvent(cursor=cursor, job_id="j"))
        if step.ending is None:
            return
        code, start_cursor = step.ending
        status = status_pb2.Status(code=code.value[0], message="scripted ending")
        if start_cursor is not NO_DETAILS:
            info = error_details_pb2.ErrorInfo(
                reason=step.reason,
                domain=step.domain,
                metadata={"lastCursor": step.cursors[-1] if step.cursors else "", "startCursor": start_cursor},
            )
            status.details.add().Pack(info)
        if step.retry_delay is not None:
            retry_delay = duration_pb2.Duration()
            retry_delay.FromTimedelta(datetime.timedelta(seconds=step.retry_delay))
            status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=retry_delay))
        if status.details:
            context.set_trailing_metadata((("grpc-status-details-bin", status.SerializeToString()),))
        context.abort(code, "scripted ending")


def scripted_server(test, script):
    """The servicer of script, served in-process; returns it and the server's address."""
    servicer = ScriptedWatchEvents(script)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    provenance_service_pb2_grpc.add_ProvenanceServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    test.addCleanup(server.stop, None)
    return servicer, f"127.0.0.1:{port}"


class EventStreamTest(unittest.TestCase):
    def serve(self, script):
        servicer, address = scripted_server(self, script)
        client = ProvenanceClient(address, token="t0ken", api_key="k3y")
        self.addCleanup(client.close)
        return servicer, client

    def test_resumes_right_after_the_last_event_it_delivered(self):
        servicer, client = self.serve(
            [
                (["1-0", "2-0"], (UNAVAILABLE, "0-5")),
                Step([], (RESOURCE_EXHAUSTED, "2-0"), reason="SUBSCRIBER_TOO_SLOW"),
                (["3-0"], None),
            ]
        )
        with client.watch_events(job_ids=["j"], labels={"team": "ml"}) as events:
            self.assertEqual([event.cursor for event in events], ["1-0", "2-0", "3-0"])
        self.assertEqual([request.after_cursor for request in servicer.requests], ["", "2-0", "2-0"])
        for request in servicer.requests:
            self.assertEqual((list(request.job_ids), dict(request.labels)), (["j"], {"team": "ml"}))
        for metadata in servicer.metadata:
            self.assertEqual((metadata["authorization"], metadata["x-api-key"]), ("Bearer t0ken", "k3y"))

    def test_resumes_where_the_subscription_began_when_it_delivered_nothing(self):
        servicer, client = self.serve(
            [
                ([], (UNAVAILABLE, "7-0")),
                ([], (UNAVAILABLE, NO_DETAILS)),
                (["8-0"], None),
            ]
        )
        self.assertEqual([event.cursor for event in client.watch_events(job_ids=["j"])], ["8-0"])
        self.assertEqual([request.after_cursor for request in servicer.requests], ["", "7-0", "7-0"])

    def test_a_subscription_that_began_at_the_oldest_event_resumes_there(self):
        servicer, client = self.serve([([], (UNAVAILABLE, "")), ([], None)])
        self.assertEqual(list(client.watch_events(job_ids=["j"])), [])
        self.assertEqual(
            [(request.start_position, request.after_cursor) for request in servicer.requests],
            [(event_pb2.START_POSITION_UNSPECIFIED, ""), (event_pb2.START_POSITION_OLDEST, "")],
        )

    def test_a_stream_given_a_cursor_resumes_after_it_when_nothing_came(self):
        servicer, client = self.serve([([], (UNAVAILABLE, NO_DETAILS)), (["5-1"], None)])
        self.assertEqual([event.cursor for event in client.watch_events(after_cursor="5-0")], ["5-1"])
        self.assertEqual([request.after_cursor for request in servicer.requests], ["5-0", "5-0"])

    def test_other_errors_are_raised_and_end_the_stream(self):
        servicer, client = self.serve([(["1-0"], (grpc.StatusCode.OUT_OF_RANGE, "0-0"))])
        events = client.watch_events(job_ids=["j"])
        self.assertEqual(next(events).cursor, "1-0")
        with self.assertRaises(grpc.RpcError) as ended:
            next(events)
        self.assertEqual(ended.exception.code(), grpc.StatusCode.OUT_OF_RANGE)
        self.assertRaises(StopIteration, next, events)
        self.assertEqual(len(servicer.requests), 1)

    def test_resumes_a_subscriber_too_slow_and_a_rate_limit_after_its_retry_delay(self):
        servicer, client = self.serve(
            [
                Step(["1-0"], (RESOURCE_EXHAUSTED, "0-0"), reason="SUBSCRIBER_TOO_SLOW"),
                Step([], (RESOURCE_EXHAUSTED, "0-0"), reason="RATE_LIMITED", retry_delay=0.007),
                Step(["2-0"], None),
            ]
        )
        resumptions = []
        events = client.watch_events(job_ids=["j"], resume=QUICK, on_resume=resumptions.append)
        self.assertEqual([event.cursor for event in events], ["1-0", "2-0"])
        self.assertEqual([error_details(r.error).reason for r in resumptions], ["SUBSCRIBER_TOO_SLOW", "RATE_LIMITED"])
        self.assertEqual(resumptions[1].delay, 0.007)
        self.assertEqual([request.after_cursor for request in servicer.requests], ["", "1-0", "1-0"])

    def test_raises_without_resuming_a_resource_exhausted_another_subscription_cannot_get_past_and_a_deadline(self):
        endings = [
            # The principal holds the most subscriptions: another one adds pressure and hides the caller's leak.
            Step([], (RESOURCE_EXHAUSTED, "0-0"), reason="TOO_MANY_SUBSCRIPTIONS"),
            Step([], (RESOURCE_EXHAUSTED, "0-0"), reason="AUTHENTICATION_THROTTLED", retry_delay=0.005),
            Step([], (RESOURCE_EXHAUSTED, "0-0"), reason="BODY_TOO_LARGE"),
            # A reason is only known within its domain: another service's SUBSCRIBER_TOO_SLOW is not ours.
            Step([], (RESOURCE_EXHAUSTED, "0-0"), reason="SUBSCRIBER_TOO_SLOW", domain="proxy.example.com"),
            # No ErrorInfo, as gRPC's own refusals (metadata or a message over a limit) come.
            Step([], (RESOURCE_EXHAUSTED, NO_DETAILS)),
            Step([], (grpc.StatusCode.DEADLINE_EXCEEDED, "0-0")),
        ]
        for ending in endings:
            with_info = ending.ending[1] is not NO_DETAILS
            with self.subTest(code=ending.ending[0], error_info=(ending.reason, ending.domain) if with_info else None):
                # The second step would succeed: only a stream that resumed would deliver its event.
                servicer, client = self.serve([ending._replace(cursors=["1-0"]), Step(["2-0"], None)])
                resumptions = []
                events = client.watch_events(job_ids=["j"], resume=QUICK, on_resume=resumptions.append)
                self.assertEqual(next(events).cursor, "1-0")
                with self.assertRaises(grpc.RpcError) as ended:
                    next(events)
                self.assertEqual(ended.exception.code(), ending.ending[0])
                self.assertRaises(StopIteration, next, events)
                self.assertEqual((resumptions, len(servicer.requests)), ([], 1))

    def test_a_registered_call_starts_the_count_of_failed_attempts_again(self):
        # A server restart as the stream sees it: the server ends a subscription it had registered (no event
        # came), then refuses one attempt while it is down. Four of them, with a policy that gives up after two
        # attempts in a row that failed before being registered.
        restart = [Step([], (UNAVAILABLE, "7-0"), registered=True), Step([], (UNAVAILABLE, NO_DETAILS))]
        servicer, client = self.serve(restart * 4 + [Step(["8-0"], None)])
        resumptions = []
        policy = ResumePolicy(max_attempts=2, initial_delay=0.001, max_delay=0.01)
        events = client.watch_events(job_ids=["j"], resume=policy, on_resume=resumptions.append)
        self.assertEqual([event.cursor for event in events], ["8-0"])
        self.assertEqual([resumption.attempt for resumption in resumptions], [1, 2] * 4)
        self.assertEqual([request.after_cursor for request in servicer.requests], [""] + ["7-0"] * 8)

    def test_raises_the_error_once_max_attempts_in_a_row_failed_before_being_registered(self):
        refused = Step([], (UNAVAILABLE, NO_DETAILS))
        servicer, client = self.serve([Step(["1-0"], (UNAVAILABLE, "0-0"))] + [refused] * 3)
        resumptions = []
        policy = ResumePolicy(max_attempts=2, initial_delay=0.001, max_delay=0.01)
        events = client.watch_events(resume=policy, on_resume=resumptions.append)
        self.assertEqual(next(events).cursor, "1-0")
        with self.assertRaises(grpc.RpcError) as ended:
            next(events)
        self.assertEqual(ended.exception.code(), UNAVAILABLE)
        self.assertRaises(StopIteration, next, events)
        self.assertEqual(len(servicer.requests), 3)
        self.assertEqual([(r.attempt, r.request.after_cursor) for r in resumptions], [(1, "1-0"), (2, "1-0")])

    def test_waits_half_to_all_of_a_doubling_delay_and_at_least_the_servers_retry_delay_up_to_the_maximum(self):
        refused = Step([], (UNAVAILABLE, NO_DETAILS))
        servicer, client = self.serve(
            [refused] * 3
            + [
                Step([], (RESOURCE_EXHAUSTED, "1-0"), retry_delay=0.05, reason="RATE_LIMITED"),
                Step([], (UNAVAILABLE, "1-0"), retry_delay=60),
                Step([], None),
            ]
        )
        resumptions = []
        self.assertEqual(list(client.watch_events(resume=ResumePolicy(initial_delay=0.01, max_delay=0.1), on_resume=resumptions.append)), [])
        delays = [resumption.delay for resumption in resumptions]
        # Backoffs 0.01, 0.02, 0.04, 0.08 and 0.1 (the maximum), each waited for half to all of it.
        for delay, (low, high) in zip(delays[:3], [(0.005, 0.01), (0.01, 0.02), (0.02, 0.04)]):
            self.assertTrue(low <= delay <= high, f"waited {delay} s, not within [{low}, {high}]: {delays}")
        self.assertTrue(0.05 <= delays[3] <= 0.08, f"waited {delays[3]} s for a RetryInfo of 0.05 s")
        self.assertEqual(delays[4], 0.1, "a RetryInfo of 60 s is waited for up to max_delay only")
        self.assertEqual(len(delays), 5)


class AsyncEventStreamTest(unittest.IsolatedAsyncioTestCase):
    """The asyncio stream shares EventStream's bookkeeping (events.Subscription): these check that it uses it the same way."""

    async def serve(self, script):
        servicer, address = scripted_server(self, script)
        client = AsyncProvenanceClient(address, token="t0ken", api_key="k3y")
        self.addAsyncCleanup(client.close)
        return servicer, client

    async def test_resumes_right_after_the_last_event_it_delivered(self):
        servicer, client = await self.serve(
            [
                (["1-0", "2-0"], (UNAVAILABLE, "0-5")),
                Step([], (RESOURCE_EXHAUSTED, "2-0"), reason="SUBSCRIBER_TOO_SLOW"),
                (["3-0"], None),
            ]
        )
        async with client.watch_events(job_ids=["j"], resume=QUICK) as events:
            self.assertEqual([event.cursor async for event in events], ["1-0", "2-0", "3-0"])
        self.assertEqual([request.after_cursor for request in servicer.requests], ["", "2-0", "2-0"])
        for metadata in servicer.metadata:
            self.assertEqual((metadata["authorization"], metadata["x-api-key"]), ("Bearer t0ken", "k3y"))

    async def test_a_call_that_delivered_starts_the_count_again_and_max_attempts_in_a_row_raise(self):
        # Registration proven by an event: grpc.aio 1.51 may drop headers that come with the status (see the README).
        refused = Step([], (UNAVAILABLE, NO_DETAILS))
        delivered_then_ended = [Step([cursor], (UNAVAILABLE, "0-0")) for cursor in ("1-0", "2-0", "3-0")]
        servicer, client = await self.serve([delivered_then_ended[0], refused, delivered_then_ended[1], refused, delivered_then_ended[2], refused, refused])
        resumptions = []
        policy = ResumePolicy(max_attempts=2, initial_delay=0.001, max_delay=0.01)
        events = client.watch_events(job_ids=["j"], resume=policy, on_resume=resumptions.append)
        self.assertEqual([(await events.__anext__()).cursor for _ in range(3)], ["1-0", "2-0", "3-0"])
        with self.assertRaises(grpc.RpcError) as ended:
            await events.__anext__()
        self.assertEqual(ended.exception.code(), UNAVAILABLE)
        with self.assertRaises(StopAsyncIteration):
            await events.__anext__()
        self.assertEqual([resumption.attempt for resumption in resumptions], [1, 2, 1, 2, 1, 2])
        self.assertEqual([request.after_cursor for request in servicer.requests], ["", "1-0", "1-0", "2-0", "2-0", "3-0", "3-0"])

    async def test_other_errors_are_raised_without_resuming(self):
        servicer, client = await self.serve([Step(["1-0"], (RESOURCE_EXHAUSTED, "0-0"), reason="TOO_MANY_SUBSCRIPTIONS"), Step(["2-0"], None)])
        resumptions = []
        events = client.watch_events(job_ids=["j"], resume=QUICK, on_resume=resumptions.append)
        self.assertEqual((await events.__anext__()).cursor, "1-0")
        with self.assertRaises(grpc.RpcError) as ended:
            await events.__anext__()
        self.assertEqual(error_details(ended.exception).reason, "TOO_MANY_SUBSCRIPTIONS")
        self.assertEqual((resumptions, len(servicer.requests)), ([], 1))


if __name__ == "__main__":
    unittest.main()
