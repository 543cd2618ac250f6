"""Python client of the provenance service: ProvenanceClient (and AsyncProvenanceClient on grpc.aio), error decoding and the hashes."""

from .aio import AsyncEventStream, AsyncProvenanceClient
from .client import ProvenanceClient
from .errors import ErrorDetails, PreconditionViolation, ResourceInfo, error_details, status_details
from .events import EventStream, ResumePolicy, Resumption
from .lineage_graph import LineageGraph

__all__ = [
    "ProvenanceClient",
    "AsyncProvenanceClient",
    "EventStream",
    "AsyncEventStream",
    "ResumePolicy",
    "Resumption",
    "ErrorDetails",
    "PreconditionViolation",
    "ResourceInfo",
    "error_details",
    "status_details",
    "LineageGraph",
]
