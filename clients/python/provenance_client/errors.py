"""Reading the google.rpc.Status that the service puts in every error's trailers (and in each failed batch result)."""

from dataclasses import dataclass, field

import grpc
from google.rpc import error_details_pb2, status_pb2

_STATUS_DETAILS_KEY = "grpc-status-details-bin"
_STATUS_CODES = {code.value[0]: code for code in grpc.StatusCode}


@dataclass(frozen=True)
class PreconditionViolation:
    """One PreconditionFailure violation: e.g. type ETAG_MISMATCH, the subject it concerns, and why."""

    type: str
    subject: str
    description: str


@dataclass(frozen=True)
class ResourceInfo:
    """The ResourceInfo of an error: which resource it concerns (e.g. resource_type provenance.v1.Job and its id)."""

    resource_type: str
    resource_name: str
    owner: str
    description: str


@dataclass(frozen=True)
class ErrorDetails:
    """What an error says: its code and message and every detail of its google.rpc.Status."""

    code: grpc.StatusCode
    message: str
    # ErrorInfo; empty when the error carries none (e.g. UNAUTHENTICATED, or a transport failure).
    reason: str = ""
    domain: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    # BadRequest: (field path, description) per bad field.
    field_violations: list[tuple[str, str]] = field(default_factory=list)
    # PreconditionFailure: one PreconditionViolation per failed precondition.
    precondition_violations: list[PreconditionViolation] = field(default_factory=list)
    # ResourceInfo; None when the error names no resource.
    resource_info: ResourceInfo | None = None
    # RetryInfo: seconds the server asks the caller to wait before trying again; None when it asks for nothing.
    retry_delay: float | None = None


def error_details(error: grpc.RpcError) -> ErrorDetails:
    """Decodes the grpc-status-details-bin trailer of an error raised by a call (sync or asyncio)."""
    status = status_pb2.Status()
    for key, value in error.trailing_metadata() or ():
        if key == _STATUS_DETAILS_KEY:
            status.ParseFromString(value)
    return _decode(error.code(), error.details() or status.message, status)


def status_details(status: status_pb2.Status) -> ErrorDetails:
    """Decodes a google.rpc.Status message, such as a failed BatchRecordJobsResult's status."""
    return _decode(_STATUS_CODES.get(status.code, grpc.StatusCode.UNKNOWN), status.message, status)


def _decode(code: grpc.StatusCode, message: str, status: status_pb2.Status) -> ErrorDetails:
    info = error_details_pb2.ErrorInfo()
    bad_request = error_details_pb2.BadRequest()
    precondition_failure = error_details_pb2.PreconditionFailure()
    resource_info = None
    retry_info = None
    for detail in status.details:
        if detail.Is(info.DESCRIPTOR):
            detail.Unpack(info)
        elif detail.Is(bad_request.DESCRIPTOR):
            detail.Unpack(bad_request)
        elif detail.Is(precondition_failure.DESCRIPTOR):
            detail.Unpack(precondition_failure)
        elif detail.Is(error_details_pb2.ResourceInfo.DESCRIPTOR):
            resource_info = error_details_pb2.ResourceInfo()
            detail.Unpack(resource_info)
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry_info = error_details_pb2.RetryInfo()
            detail.Unpack(retry_info)
    return ErrorDetails(
        code=code,
        message=message,
        reason=info.reason,
        domain=info.domain,
        metadata=dict(info.metadata),
        field_violations=[(violation.field, violation.description) for violation in bad_request.field_violations],
        precondition_violations=[
            PreconditionViolation(violation.type, violation.subject, violation.description) for violation in precondition_failure.violations
        ],
        resource_info=(
            ResourceInfo(resource_info.resource_type, resource_info.resource_name, resource_info.owner, resource_info.description)
            if resource_info is not None
            else None
        ),
        retry_delay=retry_info.retry_delay.ToTimedelta().total_seconds() if retry_info is not None else None,
    )
