from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

CACHE_POLICY_BYPASS: CachePolicy
CACHE_POLICY_REFRESH: CachePolicy
CACHE_POLICY_UNSPECIFIED: CachePolicy
CACHE_POLICY_USE: CachePolicy
CACHE_STATE_FRESH: CacheState
CACHE_STATE_NONE: CacheState
CACHE_STATE_STALE: CacheState
CACHE_STATE_UNSPECIFIED: CacheState
DESCRIPTOR: _descriptor.FileDescriptor
JOB_ORIGIN_RECORDED: JobOrigin
JOB_ORIGIN_SUBMITTED: JobOrigin
JOB_ORIGIN_UNSPECIFIED: JobOrigin
JOB_STATUS_CANCELLED: JobStatus
JOB_STATUS_FAILED: JobStatus
JOB_STATUS_QUEUED: JobStatus
JOB_STATUS_RUNNING: JobStatus
JOB_STATUS_SUCCEEDED: JobStatus
JOB_STATUS_UNSPECIFIED: JobStatus
JOB_STATUS_WAITING: JobStatus

class Job(_message.Message):
    __slots__ = ["attempt", "cache_policy", "cache_salt", "cache_state", "complete_time", "create_time", "definition_hash", "duration", "error", "etag", "input_hash", "job_id", "labels", "metadata", "origin", "owner", "parent_job_ids", "payload", "payload_redacted", "provider", "reader_subjects", "rerun_of_job_id", "restricted", "result", "start_time", "status", "tenant", "tenant_cache_salt", "type", "update_time"]
    class LabelsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    CACHE_POLICY_FIELD_NUMBER: _ClassVar[int]
    CACHE_SALT_FIELD_NUMBER: _ClassVar[int]
    CACHE_STATE_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_HASH_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    INPUT_HASH_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    PARENT_JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_REDACTED_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    READER_SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    RERUN_OF_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    RESTRICTED_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TENANT_CACHE_SALT_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    cache_policy: CachePolicy
    cache_salt: str
    cache_state: CacheState
    complete_time: _timestamp_pb2.Timestamp
    create_time: _timestamp_pb2.Timestamp
    definition_hash: str
    duration: _duration_pb2.Duration
    error: JobError
    etag: str
    input_hash: str
    job_id: str
    labels: _containers.ScalarMap[str, str]
    metadata: _struct_pb2.Struct
    origin: JobOrigin
    owner: str
    parent_job_ids: _containers.RepeatedScalarFieldContainer[str]
    payload: _struct_pb2.Struct
    payload_redacted: bool
    provider: Provider
    reader_subjects: _containers.RepeatedScalarFieldContainer[str]
    rerun_of_job_id: str
    restricted: bool
    result: JobResult
    start_time: _timestamp_pb2.Timestamp
    status: JobStatus
    tenant: str
    tenant_cache_salt: str
    type: str
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, job_id: _Optional[str] = ..., type: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., definition_hash: _Optional[str] = ..., input_hash: _Optional[str] = ..., provider: _Optional[_Union[Provider, _Mapping]] = ..., parent_job_ids: _Optional[_Iterable[str]] = ..., status: _Optional[_Union[JobStatus, str]] = ..., cache_state: _Optional[_Union[CacheState, str]] = ..., result: _Optional[_Union[JobResult, _Mapping]] = ..., error: _Optional[_Union[JobError, _Mapping]] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., complete_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., duration: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., attempt: _Optional[int] = ..., rerun_of_job_id: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., tenant: _Optional[str] = ..., owner: _Optional[str] = ..., reader_subjects: _Optional[_Iterable[str]] = ..., etag: _Optional[str] = ..., origin: _Optional[_Union[JobOrigin, str]] = ..., payload_redacted: bool = ..., restricted: bool = ..., update_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., cache_policy: _Optional[_Union[CachePolicy, str]] = ..., cache_salt: _Optional[str] = ..., tenant_cache_salt: _Optional[str] = ...) -> None: ...

class JobError(_message.Message):
    __slots__ = ["dependency_job_id", "message", "reason"]
    DEPENDENCY_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    dependency_job_id: str
    message: str
    reason: str
    def __init__(self, reason: _Optional[str] = ..., message: _Optional[str] = ..., dependency_job_id: _Optional[str] = ...) -> None: ...

class JobResult(_message.Message):
    __slots__ = ["cached", "cached_from_job_id", "output", "output_hash"]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    CACHED_FROM_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_HASH_FIELD_NUMBER: _ClassVar[int]
    cached: bool
    cached_from_job_id: str
    output: _struct_pb2.Value
    output_hash: str
    def __init__(self, output_hash: _Optional[str] = ..., output: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., cached: bool = ..., cached_from_job_id: _Optional[str] = ...) -> None: ...

class Provider(_message.Message):
    __slots__ = ["id", "model", "version"]
    ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    model: str
    version: str
    def __init__(self, id: _Optional[str] = ..., model: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class JobStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class CacheState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class JobOrigin(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class CachePolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
