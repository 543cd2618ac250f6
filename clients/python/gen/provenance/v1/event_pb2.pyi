from google.protobuf import timestamp_pb2 as _timestamp_pb2
from provenance.v1 import job_pb2 as _job_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
START_POSITION_NOW: StartPosition
START_POSITION_OLDEST: StartPosition
START_POSITION_UNSPECIFIED: StartPosition

class ProvenanceEvent(_message.Message):
    __slots__ = ["affected_count", "cached_from_job_id", "cursor", "definition_hash", "error", "input_hash", "job_id", "job_type", "labels", "output_hash", "parent_job_ids", "rerun_of_job_id", "status", "tenant", "time", "type"]
    class LabelsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AFFECTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    CACHED_FROM_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_HASH_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    INPUT_HASH_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_TYPE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_HASH_FIELD_NUMBER: _ClassVar[int]
    PARENT_JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    RERUN_OF_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    affected_count: int
    cached_from_job_id: str
    cursor: str
    definition_hash: str
    error: _job_pb2.JobError
    input_hash: str
    job_id: str
    job_type: str
    labels: _containers.ScalarMap[str, str]
    output_hash: str
    parent_job_ids: _containers.RepeatedScalarFieldContainer[str]
    rerun_of_job_id: str
    status: _job_pb2.JobStatus
    tenant: str
    time: _timestamp_pb2.Timestamp
    type: str
    def __init__(self, cursor: _Optional[str] = ..., type: _Optional[str] = ..., job_id: _Optional[str] = ..., job_type: _Optional[str] = ..., status: _Optional[_Union[_job_pb2.JobStatus, str]] = ..., definition_hash: _Optional[str] = ..., input_hash: _Optional[str] = ..., output_hash: _Optional[str] = ..., tenant: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., parent_job_ids: _Optional[_Iterable[str]] = ..., affected_count: _Optional[int] = ..., rerun_of_job_id: _Optional[str] = ..., cached_from_job_id: _Optional[str] = ..., error: _Optional[_Union[_job_pb2.JobError, _Mapping]] = ...) -> None: ...

class StartPosition(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
