"""The shared client scenario of docs/clients-scenario.md, run by test_scenario.py.

Also runs alone, from clients/python: PROVENANCE_ADDRESS=... PROVENANCE_SCENARIO_PREFIX=... \
PROVENANCE_HASH_VECTORS=... PYTHONPATH=gen /usr/bin/python3 -m tests.scenario > out.json
"""

import json
import os
import sys
import threading

from provenance_client import ProvenanceClient
from provenance_client.hashing import definition_hash

from provenance.v1 import job_pb2, provenance_service_pb2

COMPLETED_EVENT = "job.provenance.completed"
EVENT_WAIT_S = 20


def run_scenario(address, prefix, vectors):
    """Runs the six steps against the server at address; returns the output object of the doc."""
    vector_hashes = [
        {"name": vector["name"], "sha256": definition_hash(vector["type"], json.loads(vector["payloadJson"]), vectors["volatileKeys"])}
        for vector in vectors["definition"]
    ]

    def job_id(name):
        return f"{prefix}-{name}"

    def short(id):
        return id[len(prefix) + 1 :] if id.startswith(prefix + "-") else id

    with ProvenanceClient(address, timeout=30) as client:
        succeeded = dict(type="echo", status="JOB_STATUS_SUCCEEDED")
        client.record_job(job_id=job_id("a"), payload={"n": 1}, output_hash="h-a", **succeeded)
        client.record_job(job_id=job_id("b"), parent_job_ids=[job_id("a")], payload={"n": 2}, output={"b": True}, **succeeded)
        client.record_job(
            job_id=job_id("c"),
            parent_job_ids=[job_id("a"), job_id("b")],
            payload={"n": 3, "requestedAt": "2026-01-01T00:00:00Z"},
            output_hash="h-c",
            **succeeded,
        )

        lineage = client.get_lineage(job_id("c"), direction="ANCESTORS")
        nodes = sorted([short(node.job_id), node.depth] for node in lineage.nodes)
        edges = sorted([short(edge.parent_job_id), short(edge.child_job_id)] for edge in lineage.edges)

        capped = client.get_lineage(
            job_id("c"), direction="ANCESTORS", filter="status = SUCCEEDED", filter_mode="PRUNE", max_parents_per_node=1
        )
        capped_lineage = {
            "nodes": [[short(node.job_id), node.depth] for node in capped.nodes],
            "edges": [[short(edge.parent_job_id), short(edge.child_job_id)] for edge in capped.edges],
            "rootOmittedParents": capped.root.omitted_parent_count,
        }

        # From the oldest event kept: only P-d's events pass the filter and none
        # exists before the submit, so none can slip by while the server is
        # still opening the subscription (which a client cannot observe).
        events = client.watch_events(job_ids=[job_id("d")], start_position="OLDEST")
        deadline = threading.Timer(EVENT_WAIT_S, events.close)
        deadline.start()
        try:
            client.submit_job(job_id=job_id("d"), type="echo", payload={"msg": "hi"}, parent_job_ids=[job_id("c")])
            event_types = []
            for event in events:
                event_types.append(event.type)
                if event.type == COMPLETED_EVENT:
                    break
        finally:
            deadline.cancel()
            events.close()
        submitted = client.get_job(job_id("d"))

        reproducibility = client.check_reproducibility(job_id("c"))

    return {
        "vectorHashes": vector_hashes,
        "lineage": {"nodes": nodes, "edges": edges},
        "cappedLineage": capped_lineage,
        "events": event_types,
        "finalStatus": job_pb2.JobStatus.Name(submitted.status),
        "reproducible": reproducibility.reproducible,
        "issues": sorted(provenance_service_pb2.ReproducibilityIssueReason.Name(issue.reason) for issue in reproducibility.issues),
        "definitionHashMatches": submitted.definition_hash == definition_hash("echo", {"msg": "hi"}),
    }


def scenario_from_environment():
    """run_scenario with the inputs the doc names; a missing one is an error, not a skip."""
    missing = [name for name in ("PROVENANCE_ADDRESS", "PROVENANCE_SCENARIO_PREFIX", "PROVENANCE_HASH_VECTORS") if not os.environ.get(name)]
    if missing:
        raise RuntimeError(f"the scenario needs {', '.join(missing)}")
    with open(os.environ["PROVENANCE_HASH_VECTORS"], encoding="utf-8") as file:
        vectors = json.load(file)
    return run_scenario(os.environ["PROVENANCE_ADDRESS"], os.environ["PROVENANCE_SCENARIO_PREFIX"], vectors)


if __name__ == "__main__":
    json.dump(scenario_from_environment(), sys.stdout, indent=2)
    print()
