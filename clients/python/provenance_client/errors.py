"""Reading the google.rpc.Status that the service puts in every error's trailers."""

from dataclasses import dataclass, field

import grpc
from google.rpc import error_details_pb2, status_pb2

_STATUS_DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True)
class ErrorDetails:
    """What an RpcError says: its code and message, its ErrorInfo, its BadRequest violations and its RetryInfo."""

    code: grpc.StatusCode
    message: str
    # ErrorInfo; empty when the error carries none (e.g. UNAUTHENTICATED, or a transport failure).
    reason: str = ""
    domain: str = ""
    metadata: dict = field(default_factory=dict)
    # BadRequest: (field path, description) per bad field.
    field_violations: list = field(default_factory=list)
    # RetryInfo: seconds the server asks the caller to wait before trying again; None when it asks for nothing.
    retry_delay: float | None = None


def error_details(error: grpc.RpcError) -> ErrorDetails:
    """Decodes the grpc-status-details-bin trailer of an error raised by a call."""
    status = status_pb2.Status()
    for key, value in error.trailing_metadata() or ():
        if key == _STATUS_DETAILS_KEY:
            status.ParseFromString(value)
    info = error_details_pb2.ErrorInfo()
    bad_request = error_details_pb2.BadRequest()
    retry_info = None
    for detail in status.details:
        if detail.Is(info.DESCRIPTOR):
            detail.Unpack(info)
        elif detail.Is(bad_request.DESCRIPTOR):
            detail.Unpack(bad_request)
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry_info = error_details_pb2.RetryInfo()
            detail.Unpack(retry_info)
    return ErrorDetails(
        code=error.code(),
        message=error.details() or status.message,
        reason=info.reason,
        domain=info.domain,
        metadata=dict(info.metadata),
        field_violations=[(violation.field, violation.description) for violation in bad_request.field_violations],
        retry_delay=retry_info.retry_delay.ToTimedelta().total_seconds() if retry_info is not None else None,
    )
