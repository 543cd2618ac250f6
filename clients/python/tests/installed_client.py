"""What a user does with the installed client, sync and asyncio, against a live server; prints what it saw as JSON.

test/e2e/python-install.test.ts copies it out of the repository, installs
provenance-client with pip into a fresh virtual environment and runs it
there: python installed_client.py <address> <job id prefix>.
"""

import asyncio
import json
import sys

import grpc
import provenance_client
from provenance.v1 import job_pb2
from provenance_client import AsyncProvenanceClient, ProvenanceClient, error_details


def details_of(error):
    details = error_details(error)
    return {
        "code": details.code.name,
        "reason": details.reason,
        "fieldViolations": [field for field, _ in details.field_violations],
        "preconditionViolations": [[v.type, v.subject] for v in details.precondition_violations],
        "resourceInfo": [details.resource_info.resource_type, details.resource_info.resource_name] if details.resource_info else None,
    }


def refusal(call):
    """How a call the service refuses fails: its error's details, or the client's own TypeError or ValueError."""
    try:
        call()
    except grpc.RpcError as error:
        return details_of(error)
    except (TypeError, ValueError) as error:
        return {"raised": type(error).__name__, "message": str(error)}
    raise AssertionError("the call succeeded")


def run_sync(address, prefix):
    label = {"run": prefix}
    with ProvenanceClient(address, timeout=20) as client:
        root = client.record_job(job_id=f"{prefix}-a", type="echo", payload={"n": 1}, status="SUCCEEDED", output_hash="h", labels=label)
        client.record_job(job_id=f"{prefix}-b", type="echo", payload={"n": 2}, parent_job_ids=[root.job_id], status="SUCCEEDED", output_hash="h", labels=label)
        batch = client.batch_record_jobs(
            [
                dict(job_id=f"{prefix}-c", type="echo", payload={"n": 3}, parent_job_ids=[root.job_id], status="SUCCEEDED", output_hash="h", labels=label),
                dict(job_id=f"{prefix}-d", type="echo", parent_job_ids=[f"{prefix}-missing"], status="SUCCEEDED", output_hash="h", labels=label),
            ]
        )
        return {
            "got": client.get_job(root.job_id).job_id,
            "jobs": [job.job_id for job in client.iter_jobs(filter=f'labels.run = "{prefix}"', page_size=1)],
            "pages": [len(page) for page in client.list_jobs(filter=f'labels.run = "{prefix}"', page_size=2)],
            "dependents": sorted(d.job.job_id for d in client.iter_dependents(root.job_id, page_size=1)),
            "batch": [provenance_client.status_details(result.status).code.name for result in batch.results],
            "batchDetails": provenance_client.status_details(batch.results[1].status).reason,
            "exported": sorted(job.job_id for job in client.export_provenance_graph(root.job_id, direction="DESCENDANTS").jobs),
            "invalidated": client.invalidate_cache(root.job_id, dry_run=True).dry_run,
            "notFound": refusal(lambda: client.get_job(f"{prefix}-nope")),
            "missingParent": refusal(lambda: client.record_job(job_id=f"{prefix}-e", type="echo", parent_job_ids=[f"{prefix}-gone"], status="SUCCEEDED", output_hash="h")),
            "badRequest": refusal(lambda: client.record_job(job_id=f"{prefix}-g", type="", status="SUCCEEDED", output_hash="h")),
            "unknownKeyword": refusal(lambda: client.record_job(jobId=f"{prefix}-f")),
            "wrongValue": refusal(lambda: client.submit_job(type="echo", parent_job_ids="not-a-list")),
            # Last, as a rerun is a new job under the run's labels.
            "cancelFinished": refusal(lambda: client.cancel_job(root.job_id, reason="too late")),
            "rerun": job_pb2.JobStatus.Name(client.rerun_job(root.job_id).status),
            "auditEvents": sum(1 for _ in client.iter_audit_events(page_size=2)) > 0,
            "shared": list(client.set_reader_subjects(root.job_id, ["globex/bob"]).reader_subjects),
            "revoked": list(client.set_reader_subjects(root.job_id, []).reader_subjects),
        }


async def run_async(address, prefix):
    label = {"run": f"{prefix}-async"}
    async with AsyncProvenanceClient(address, timeout=20) as client:
        root = await client.record_job(job_id=f"{prefix}-async-a", type="echo", payload={"n": 1}, status="SUCCEEDED", output_hash="h", labels=label)
        await client.record_job(job_id=f"{prefix}-async-b", type="echo", parent_job_ids=[root.job_id], status="SUCCEEDED", output_hash="h", labels=label)
        submitted = await client.submit_job(job_id=f"{prefix}-async-c", type="echo", payload={"msg": "hi"}, parent_job_ids=[root.job_id], labels=label)
        events = []
        async with client.watch_events(job_ids=[submitted.job_id], start_position="OLDEST") as stream:
            async for event in stream:
                events.append(event.type)
                if event.type == "job.provenance.completed":
                    break
        try:
            await client.get_job(f"{prefix}-async-nope")
            not_found = None
        except grpc.RpcError as error:
            not_found = details_of(error)
        return {
            "got": (await client.get_job(root.job_id)).job_id,
            "jobs": [job.job_id async for job in client.iter_jobs(filter=f'labels.run = "{prefix}-async"', page_size=1)],
            "lineage": sorted(node.job_id for node in (await client.get_lineage_graph(submitted.job_id, direction="ANCESTORS")).nodes),
            "events": events,
            "notFound": not_found,
            "shared": list((await client.set_reader_subjects(root.job_id, ["globex/bob"])).reader_subjects),
            "revoked": list((await client.set_reader_subjects(root.job_id, [])).reader_subjects),
        }


def main():
    address, prefix = sys.argv[1], sys.argv[2]
    print(
        json.dumps(
            {
                # Where Python found the package and its generated modules: the virtual environment's site-packages.
                "clientFile": provenance_client.__file__,
                "generatedFile": job_pb2.__file__,
                "sync": run_sync(address, prefix),
                "asyncio": asyncio.run(run_async(address, prefix)),
            }
        )
    )


if __name__ == "__main__":
    main()
