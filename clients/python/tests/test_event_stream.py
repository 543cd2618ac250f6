"""EventStream's resuming, against an in-process server that ends streams the way the service does
when it loses Redis (UNAVAILABLE) or drops a slow subscriber (RESOURCE_EXHAUSTED)."""

import unittest
from concurrent import futures

import grpc

from provenance_client import ProvenanceClient

# After provenance_client, which puts the generated modules on sys.path.
from google.rpc import error_details_pb2, status_pb2  # isort: skip
from provenance.v1 import event_pb2, provenance_service_pb2, provenance_service_pb2_grpc  # isort: skip

UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
RESOURCE_EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
NO_DETAILS = object()


class ScriptedWatchEvents(provenance_service_pb2_grpc.ProvenanceServiceServicer):
    """Answers each WatchEvents call with the next (cursors, ending) of its script.

    ending is None (the stream ends OK) or (code, start_cursor): the status,
    with the ErrorInfo metadata the service adds (startCursor), or with no
    details at all when start_cursor is NO_DETAILS.
    """

    def __init__(self, script):
        self.script = list(script)
        self.requests = []
        self.metadata = []

    def WatchEvents(self, request, context):
        self.requests.append(request)
        self.metadata.append(dict(context.invocation_metadata()))
        cursors, ending = self.script.pop(0)
        for cursor in cursors:
            yield provenance_service_pb2.WatchEventsResponse(event=event_pb2.ProvenanceEvent(cursor=cursor, job_id="j"))
        if ending is None:
            return
        code, start_cursor = ending
        if start_cursor is not NO_DETAILS:
            info = error_details_pb2.ErrorInfo(
                reason="EVENTS_UNAVAILABLE",
                domain="provenance.v1",
                metadata={"lastCursor": cursors[-1] if cursors else "", "startCursor": start_cursor},
            )
            status = status_pb2.Status(code=code.value[0], message="scripted ending")
            status.details.add().Pack(info)
            context.set_trailing_metadata((("grpc-status-details-bin", status.SerializeToString()),))
        context.abort(code, "scripted ending")


class EventStreamTest(unittest.TestCase):
    def serve(self, script):
        servicer = ScriptedWatchEvents(script)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        provenance_service_pb2_grpc.add_ProvenanceServiceServicer_to_server(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self.addCleanup(server.stop, None)
        client = ProvenanceClient(f"127.0.0.1:{port}", token="t0ken", api_key="k3y")
        self.addCleanup(client.close)
        return servicer, client

    def test_resumes_right_after_the_last_event_it_delivered(self):
        servicer, client = self.serve(
            [
                (["1-0", "2-0"], (UNAVAILABLE, "0-5")),
                ([], (RESOURCE_EXHAUSTED, "2-0")),
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


if __name__ == "__main__":
    unittest.main()
