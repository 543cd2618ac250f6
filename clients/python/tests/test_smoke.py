"""ProvenanceClient against a live server at PROVENANCE_ADDRESS (plaintext, no authentication)."""

import asyncio
import datetime
import os
import socket
import threading
import time
import unittest
import uuid

import grpc
from google.protobuf import json_format

from provenance_client import AsyncProvenanceClient, ProvenanceClient, error_details
from provenance_client.hashing import definition_hash, input_hash, output_hash

from provenance.v1 import job_pb2, provenance_service_pb2

ADDRESS = os.environ.get("PROVENANCE_ADDRESS")
COMPLETED_EVENT = "job.provenance.completed"
EVENT_WAIT_S = 20


@unittest.skipUnless(ADDRESS, "PROVENANCE_ADDRESS is not set: these tests need a live server (host:port, plaintext, no authentication)")
class SmokeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.client = ProvenanceClient(ADDRESS, timeout=30)
        cls.run_id = f"py-smoke-{uuid.uuid4().hex[:8]}"

    @classmethod
    def tearDownClass(cls):
        cls.client.close()

    def job_id(self, name):
        return f"{self.run_id}-{name}"

    def follow_until_completed(self, events):
        """The events of a stream up to the completion event, closing it after EVENT_WAIT_S at the latest."""
        deadline = threading.Timer(EVENT_WAIT_S, events.close)
        deadline.start()
        received = []
        try:
            for event in events:
                received.append(event)
                if event.type == COMPLETED_EVENT:
                    break
        finally:
            deadline.cancel()
            events.close()
        self.assertTrue(received and received[-1].type == COMPLETED_EVENT, f"no {COMPLETED_EVENT} within {EVENT_WAIT_S} s: {[e.type for e in received]}")
        return received

    def test_record_a_dag_and_read_its_lineage(self):
        raw, features, model = self.job_id("raw"), self.job_id("features"), self.job_id("model")
        started = datetime.datetime(2026, 11, 26, 9, 1, tzinfo=datetime.timezone.utc)
        raw_job = self.client.record_job(
            job_id=raw,
            type="ingest",
            payload={"source": "s3://bucket/raw.csv", "requestedAt": "2026-11-26T09:00:00Z"},
            provider={"id": "etl", "model": "csv-loader"},
            status="SUCCEEDED",
            output={"rows": 10000, "ratio": 0.5},
        )
        features_job = self.client.record_job(
            job_id=features,
            type="featurize",
            parent_job_ids=[raw],
            payload={"columns": ["age", "income"]},
            status="SUCCEEDED",
            start_time=started,
            complete_time=started + datetime.timedelta(seconds=150),
            output_hash="sha256:features",
        )
        model_job = self.client.record_job(
            job_id=model,
            type="train",
            parent_job_ids=[features, raw],
            payload={"lr": 0.01, "epochs": 5},
            labels={"team": "risk"},
            status="SUCCEEDED",
            output_hash="sha256:model",
        )

        # The server's hashes are the ones this package computes (docs/hashing.md).
        self.assertEqual(raw_job.definition_hash, definition_hash("ingest", {"source": "s3://bucket/raw.csv"}))
        self.assertEqual(raw_job.result.output_hash, output_hash({"rows": 10000, "ratio": 0.5}))
        self.assertEqual(raw_job.input_hash, input_hash(raw_job.definition_hash, {}))
        self.assertEqual(
            model_job.input_hash,
            input_hash(model_job.definition_hash, {raw: raw_job.result.output_hash, features: "sha256:features"}),
        )
        self.assertEqual(features_job.duration.seconds, 150)
        self.assertEqual(features_job.start_time.ToDatetime(), started.replace(tzinfo=None))

        ancestors = self.client.get_lineage(model, direction="ANCESTORS")
        self.assertEqual(ancestors.root.job_id, model)
        self.assertEqual({(node.job_id, node.depth) for node in ancestors.nodes}, {(features, 1), (raw, 1)})
        self.assertEqual(
            {(edge.parent_job_id, edge.child_job_id) for edge in ancestors.edges},
            {(raw, features), (features, model), (raw, model)},
        )

        # The compact view, read as a LineageGraph, is the IDS view's graph.
        ids = self.client.get_lineage(model, direction="ANCESTORS", view="IDS")
        graph = self.client.get_lineage_graph(model, direction="ANCESTORS")
        self.assertEqual((graph.root, graph.nodes, graph.edges), (ids.root, list(ids.nodes), list(ids.edges)))

        # StreamLineage, a node a message, is the IDS view's graph; resumed after its first message, it sends the rest.
        streamed = list(self.client.stream_lineage(model, direction="ANCESTORS", max_message_nodes=1))
        self.assertEqual([message.last for message in streamed], [False, True])
        self.assertEqual(streamed[0].root, ids.root)
        self.assertEqual([node for message in streamed for node in message.nodes], list(ids.nodes))
        edge_pairs = lambda edges: sorted((edge.parent_job_id, edge.child_job_id) for edge in edges)
        self.assertEqual(edge_pairs(edge for message in streamed for edge in message.edges), edge_pairs(ids.edges))
        rest = list(self.client.stream_lineage(model, direction="ANCESTORS", max_message_nodes=1, resume_token=streamed[0].resume_token))
        self.assertEqual([list(message.nodes) for message in rest], [list(streamed[1].nodes)])

        async def stream_asynchronously():
            async with AsyncProvenanceClient(ADDRESS, timeout=30) as client:
                return [message async for message in client.stream_lineage(model, direction="ANCESTORS")]

        self.assertEqual([list(message.nodes) for message in asyncio.run(stream_asynchronously())], [list(ids.nodes)])

        descendants = self.client.get_lineage(raw, direction="LINEAGE_DIRECTION_DESCENDANTS", max_depth=1, view="FULL")
        self.assertEqual({node.job_id for node in descendants.nodes}, {features, model})
        self.assertEqual({node.job.type for node in descendants.nodes}, {"featurize", "train"})

        # Recorded types have no handler on the server, so none of the three could run again there.
        reproducibility = self.client.check_reproducibility(model)
        self.assertFalse(reproducibility.reproducible)
        self.assertEqual(
            {(issue.job_id, issue.reason) for issue in reproducibility.issues},
            {(job_id, provenance_service_pb2.REPRODUCIBILITY_ISSUE_REASON_NO_HANDLER) for job_id in (raw, features, model)},
        )
        self.assertEqual(self.client.get_job(features).parent_job_ids, [raw])

    def test_compare_jobs_names_the_changed_payload_path_sync_and_asyncio(self):
        left, right = self.job_id("compared-left"), self.job_id("compared-right")
        self.client.record_job(job_id=left, type="train", payload={"lr": 0.1, "epochs": 3}, status="SUCCEEDED", output_hash="h-left")
        self.client.record_job(job_id=right, type="train", payload={"lr": 0.2, "epochs": 3}, status="SUCCEEDED", output_hash="h-right")
        comparison = self.client.compare_jobs(left, right)
        self.assertFalse(comparison.difference.definition_hash_equal)
        self.assertEqual([(d.path, d.left_value_json, d.right_value_json) for d in comparison.difference.payload_differences], [("/lr", "0.1", "0.2")])

        async def compare_async():
            async with AsyncProvenanceClient(ADDRESS, timeout=30) as client:
                return await client.compare_jobs(left, right)

        self.assertEqual(asyncio.run(compare_async()), comparison)

    def test_set_reader_subjects_shares_a_job_and_an_empty_list_revokes_sync_and_asyncio(self):
        job = self.client.record_job(job_id=self.job_id("shared"), type="echo", status="SUCCEEDED", output_hash="h")
        shared = self.client.set_reader_subjects(job.job_id, ["globex/bob"], etag=job.etag)
        self.assertEqual(list(shared.reader_subjects), ["globex/bob"])
        with self.assertRaises(grpc.RpcError) as stale:
            self.client.set_reader_subjects(job.job_id, [], etag=job.etag)
        self.assertEqual((error_details(stale.exception).code, error_details(stale.exception).reason), (grpc.StatusCode.ABORTED, "ETAG_MISMATCH"))
        self.assertEqual(list(self.client.set_reader_subjects(job.job_id, []).reader_subjects), [])

        async def share_and_revoke_async():
            async with AsyncProvenanceClient(ADDRESS, timeout=30) as client:
                shared = await client.set_reader_subjects(job.job_id, ["initech/carol"])
                revoked = await client.set_reader_subjects(job.job_id, [], etag=shared.etag)
                return list(shared.reader_subjects), list(revoked.reader_subjects)

        self.assertEqual(asyncio.run(share_and_revoke_async()), (["initech/carol"], []))
        self.assertEqual(list(self.client.get_job(job.job_id).reader_subjects), [])

    def test_list_jobs_yields_pages_newest_first(self):
        ids = [self.job_id(f"listed-{index}") for index in range(3)]
        for job_id in ids:
            self.client.record_job(job_id=job_id, type="echo", labels={"run": self.run_id}, status="SUCCEEDED", output_hash="h")
        pages = list(self.client.list_jobs(filter=f'labels.run = "{self.run_id}" AND type = "echo"', page_size=2))
        self.assertEqual([[job.job_id for job in page] for page in pages], [[ids[2], ids[1]], [ids[0]]])

    def test_follow_the_events_of_a_submitted_job_and_resume_after_a_cursor(self):
        job_id = self.job_id("echo")
        # From the oldest kept event: none of the job's events can pass before
        # the server has opened the subscription, whenever that happens.
        stream = self.client.watch_events(job_ids=[job_id], start_position="OLDEST")
        self.client.submit_job(job_id=job_id, type="echo", payload={"text": "hi", "createdAt": "now"})
        events = self.follow_until_completed(stream)
        self.assertEqual({event.job_id for event in events}, {job_id})
        self.assertEqual(events[0].type, "compute.job.submitted")
        self.assertEqual(len({event.cursor for event in events}), len(events))

        job = self.client.get_job(job_id)
        self.assertEqual(job.status, job_pb2.JOB_STATUS_SUCCEEDED)
        self.assertEqual(job.definition_hash, definition_hash("echo", {"text": "hi"}))
        self.assertEqual(job.result.output_hash, output_hash(json_format.MessageToDict(job.result.output)))
        self.assertEqual(events[-1].output_hash, job.result.output_hash)

        resumed = self.follow_until_completed(self.client.watch_events(job_ids=[job_id], after_cursor=events[1].cursor))
        self.assertEqual([event.cursor for event in resumed], [event.cursor for event in events[2:]])

    def test_errors_carry_their_details(self):
        with self.assertRaises(grpc.RpcError) as missing:
            self.client.get_job(self.job_id("missing"))
        details = error_details(missing.exception)
        self.assertEqual((details.code, details.domain, details.reason), (grpc.StatusCode.NOT_FOUND, "provenance.v1", "JOB_NOT_FOUND"))

        with self.assertRaises(grpc.RpcError) as invalid:
            self.client.record_job(job_id="not an id", type="echo", status="SUCCEEDED", output_hash="h")
        details = error_details(invalid.exception)
        self.assertEqual(details.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual([violation[0] for violation in details.field_violations], ["job_id"])

    def test_a_stream_that_cannot_resume_raises(self):
        events = self.client.watch_events(after_cursor="not-a-cursor")
        with self.assertRaises(grpc.RpcError) as refused:
            next(events)
        self.assertEqual(error_details(refused.exception).field_violations[0][0], "after_cursor")
        self.assertRaises(StopIteration, next, events)

    def test_close_ends_a_stream_that_waits_for_events(self):
        events = self.client.watch_events(job_ids=[self.job_id("never")])
        threading.Timer(0.5, events.close).start()
        started = time.monotonic()
        self.assertEqual(list(events), [])
        self.assertLess(time.monotonic() - started, 5)

    def test_closing_the_client_ends_its_streams(self):
        client = ProvenanceClient(ADDRESS)
        events = client.watch_events(job_ids=[self.job_id("never-either")])
        threading.Timer(0.5, client.close).start()
        self.assertEqual(list(events), [])

    def test_the_default_deadline_applies_to_every_call(self):
        # A socket that accepts connections and never answers: only the deadline ends the call.
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen()
            address = "127.0.0.1:%d" % silent.getsockname()[1]
            with ProvenanceClient(address, timeout=0.3) as hurried:
                with self.assertRaises(grpc.RpcError) as late:
                    hurried.get_job(self.job_id("any"))
        self.assertEqual(late.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)


if __name__ == "__main__":
    unittest.main()
