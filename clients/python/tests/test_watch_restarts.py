"""The Python watch of test/e2e/client-watch-restarts.test.ts, which stops and starts the server at
PROVENANCE_ADDRESS under it, more times than the watch's max attempts, with no event flowing.

It runs only when that test sets PROVENANCE_RESTARTS_JOB_ID (and PROVENANCE_RESTARTS_SETTINGS, a JSON
object: maxAttempts, initialDelayMs, maxDelayMs, reconnectBackoffMs). It follows that job until its
provenance is complete, telling the test of each resumption and event on stdout, one JSON object a line.
"""

import json
import os
import unittest

from provenance_client import ProvenanceClient, ResumePolicy

ADDRESS = os.environ.get("PROVENANCE_ADDRESS")
JOB_ID = os.environ.get("PROVENANCE_RESTARTS_JOB_ID")
RECORDED = ["job.provenance.created", "compute.job.completed", "job.provenance.completed"]


def report(**line):
    print(json.dumps(line), flush=True)


@unittest.skipUnless(ADDRESS and JOB_ID, "run by test/e2e/client-watch-restarts.test.ts, which restarts the server")
class WatchAcrossRestartsTest(unittest.TestCase):
    def test_a_quiet_watch_outlives_more_server_restarts_than_its_max_attempts(self):
        settings = json.loads(os.environ["PROVENANCE_RESTARTS_SETTINGS"])
        policy = ResumePolicy(
            max_attempts=settings["maxAttempts"],
            initial_delay=settings["initialDelayMs"] / 1000,
            max_delay=settings["maxDelayMs"] / 1000,
        )
        # grpc's own reconnection backoff would otherwise decide when the restarted server is seen. grpcio
        # kept failing calls for 5 s and more after the server was back unless its minimum (20 s by default,
        # also the time a connection attempt is given) is lowered too: to 1 s, which a busy server answers in.
        reconnect = settings["reconnectBackoffMs"]
        options = [
            ("grpc.initial_reconnect_backoff_ms", reconnect),
            ("grpc.max_reconnect_backoff_ms", reconnect),
            ("grpc.min_reconnect_backoff_ms", 1000),
        ]

        def on_resume(resumption):
            report(resume={"attempt": resumption.attempt, "code": resumption.error.code().value[0]})

        types = []
        with ProvenanceClient(ADDRESS, options=options) as client:
            with client.watch_events(job_ids=[JOB_ID], resume=policy, on_resume=on_resume) as events:
                for event in events:
                    report(event={"jobId": event.job_id, "type": event.type, "cursor": event.cursor})
                    types.append(event.type)
                    if event.type == RECORDED[-1]:
                        break
        self.assertEqual(types, RECORDED)


if __name__ == "__main__":
    unittest.main()
