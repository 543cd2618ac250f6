"""as_of on get_job, get_lineage, list_dependents and stream_lineage: the request field, and the answers of a live server at PROVENANCE_ADDRESS."""

import asyncio
import datetime
import os
import time
import unittest
import uuid

import grpc

from provenance_client import AsyncProvenanceClient, ProvenanceClient
from provenance_client.client import get_job_request, lineage_request, list_dependents_request, stream_lineage_request

ADDRESS = os.environ.get("PROVENANCE_ADDRESS")


class AsOfRequestTest(unittest.TestCase):
    def test_sets_as_of_when_given_and_leaves_it_unset_otherwise(self):
        when = datetime.datetime(2026, 3, 1, 12, 30, tzinfo=datetime.timezone.utc)
        requests = [
            get_job_request("j", when),
            lineage_request("j", "BOTH", 0, 0, "BASIC", when),
            list_dependents_request("j", True, 0, when),
            stream_lineage_request("j", "BOTH", 0, 0, "", when),
        ]
        for request in requests:
            with self.subTest(request=type(request).__name__):
                self.assertEqual(request.as_of.ToJsonString(), "2026-03-01T12:30:00Z")
        self.assertFalse(get_job_request("j", None).HasField("as_of"))
        self.assertFalse(lineage_request("j", "BOTH", 0, 0, "BASIC").HasField("as_of"))


@unittest.skipUnless(ADDRESS, "PROVENANCE_ADDRESS is not set: these tests need a live server (host:port, plaintext, no authentication)")
class AsOfLiveTest(unittest.TestCase):
    def test_answers_as_the_graph_was_before_a_child_was_recorded(self):
        run_id = f"py-as-of-{uuid.uuid4().hex[:8]}"
        parent, child = f"{run_id}-parent", f"{run_id}-child"
        with ProvenanceClient(ADDRESS, timeout=30) as client:
            client.record_job(job_id=parent, type="echo", status="SUCCEEDED", output_hash="h-parent")
            # A time strictly between the two recordings, on the clock the server shares.
            time.sleep(0.01)
            between = datetime.datetime.now(datetime.timezone.utc)
            time.sleep(0.01)
            client.record_job(job_id=child, type="echo", parent_job_ids=[parent], status="SUCCEEDED", output_hash="h-child")

            self.assertEqual(client.get_job(parent, as_of=between).job_id, parent)
            with self.assertRaises(grpc.RpcError) as refused:
                client.get_job(child, as_of=between)
            self.assertEqual(refused.exception.code(), grpc.StatusCode.NOT_FOUND)
            self.assertEqual(len(client.get_lineage(parent, direction="DESCENDANTS", as_of=between).nodes), 0)
            self.assertEqual([node.job_id for node in client.get_lineage(parent, direction="DESCENDANTS").nodes], [child])
            self.assertEqual(list(client.iter_dependents(parent, as_of=between)), [])
            self.assertEqual([node.job_id for message in client.stream_lineage(parent, direction="DESCENDANTS", as_of=between) for node in message.nodes], [])

            async def from_asyncio():
                async with AsyncProvenanceClient(ADDRESS, timeout=30) as aio:
                    lineage = await aio.get_lineage(parent, direction="DESCENDANTS", as_of=between)
                    return len(lineage.nodes), [d.job.job_id async for d in aio.iter_dependents(parent, as_of=between)]

            self.assertEqual(asyncio.run(from_asyncio()), (0, []))


if __name__ == "__main__":
    unittest.main()
