from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AuditEvent(_message.Message):
    __slots__ = ["audit_event_id", "job_ids", "method", "outcome", "subject", "tenant", "time"]
    AUDIT_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    audit_event_id: str
    job_ids: _containers.RepeatedScalarFieldContainer[str]
    method: str
    outcome: str
    subject: str
    tenant: str
    time: _timestamp_pb2.Timestamp
    def __init__(self, audit_event_id: _Optional[str] = ..., subject: _Optional[str] = ..., tenant: _Optional[str] = ..., method: _Optional[str] = ..., job_ids: _Optional[_Iterable[str]] = ..., time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., outcome: _Optional[str] = ...) -> None: ...
