from provenance.v1 import job_pb2 as _job_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
LINEAGE_DIRECTION_ANCESTORS: LineageDirection
LINEAGE_DIRECTION_BOTH: LineageDirection
LINEAGE_DIRECTION_DESCENDANTS: LineageDirection
LINEAGE_DIRECTION_UNSPECIFIED: LineageDirection
LINEAGE_FILTER_MODE_COLLAPSE: LineageFilterMode
LINEAGE_FILTER_MODE_PRUNE: LineageFilterMode
LINEAGE_FILTER_MODE_UNSPECIFIED: LineageFilterMode
LINEAGE_RELATION_ANCESTOR: LineageRelation
LINEAGE_RELATION_DESCENDANT: LineageRelation
LINEAGE_RELATION_ROOT: LineageRelation
LINEAGE_RELATION_UNSPECIFIED: LineageRelation
LINEAGE_VIEW_BASIC: LineageView
LINEAGE_VIEW_COMPACT: LineageView
LINEAGE_VIEW_FULL: LineageView
LINEAGE_VIEW_IDS: LineageView
LINEAGE_VIEW_UNSPECIFIED: LineageView
TRUNCATION_REASON_FAN_OUT: TruncationReason
TRUNCATION_REASON_MAX_DEPTH: TruncationReason
TRUNCATION_REASON_MAX_NODES: TruncationReason
TRUNCATION_REASON_UNSPECIFIED: TruncationReason

class CompactLineage(_message.Message):
    __slots__ = ["depths", "edge_indexes", "fan_out_omitted_counts", "fan_out_truncated_indexes", "job_ids", "relations", "restricted_indexes"]
    DEPTHS_FIELD_NUMBER: _ClassVar[int]
    EDGE_INDEXES_FIELD_NUMBER: _ClassVar[int]
    FAN_OUT_OMITTED_COUNTS_FIELD_NUMBER: _ClassVar[int]
    FAN_OUT_TRUNCATED_INDEXES_FIELD_NUMBER: _ClassVar[int]
    JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    RELATIONS_FIELD_NUMBER: _ClassVar[int]
    RESTRICTED_INDEXES_FIELD_NUMBER: _ClassVar[int]
    depths: _containers.RepeatedScalarFieldContainer[int]
    edge_indexes: _containers.RepeatedScalarFieldContainer[int]
    fan_out_omitted_counts: _containers.RepeatedScalarFieldContainer[int]
    fan_out_truncated_indexes: _containers.RepeatedScalarFieldContainer[int]
    job_ids: _containers.RepeatedScalarFieldContainer[str]
    relations: _containers.RepeatedScalarFieldContainer[LineageRelation]
    restricted_indexes: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, job_ids: _Optional[_Iterable[str]] = ..., depths: _Optional[_Iterable[int]] = ..., relations: _Optional[_Iterable[_Union[LineageRelation, str]]] = ..., restricted_indexes: _Optional[_Iterable[int]] = ..., edge_indexes: _Optional[_Iterable[int]] = ..., fan_out_truncated_indexes: _Optional[_Iterable[int]] = ..., fan_out_omitted_counts: _Optional[_Iterable[int]] = ...) -> None: ...

class Edge(_message.Message):
    __slots__ = ["child_job_id", "parent_job_id"]
    CHILD_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    child_job_id: str
    parent_job_id: str
    def __init__(self, parent_job_id: _Optional[str] = ..., child_job_id: _Optional[str] = ...) -> None: ...

class FanOutTruncation(_message.Message):
    __slots__ = ["job_id", "omitted_child_count", "omitted_parent_count"]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    OMITTED_CHILD_COUNT_FIELD_NUMBER: _ClassVar[int]
    OMITTED_PARENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    omitted_child_count: int
    omitted_parent_count: int
    def __init__(self, job_id: _Optional[str] = ..., omitted_child_count: _Optional[int] = ..., omitted_parent_count: _Optional[int] = ...) -> None: ...

class LineageNode(_message.Message):
    __slots__ = ["cache_state", "depth", "job", "job_id", "omitted_child_count", "omitted_parent_count", "relation", "restricted", "status", "type"]
    CACHE_STATE_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    OMITTED_CHILD_COUNT_FIELD_NUMBER: _ClassVar[int]
    OMITTED_PARENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    RELATION_FIELD_NUMBER: _ClassVar[int]
    RESTRICTED_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    cache_state: _job_pb2.CacheState
    depth: int
    job: _job_pb2.Job
    job_id: str
    omitted_child_count: int
    omitted_parent_count: int
    relation: LineageRelation
    restricted: bool
    status: _job_pb2.JobStatus
    type: str
    def __init__(self, job_id: _Optional[str] = ..., depth: _Optional[int] = ..., relation: _Optional[_Union[LineageRelation, str]] = ..., type: _Optional[str] = ..., status: _Optional[_Union[_job_pb2.JobStatus, str]] = ..., cache_state: _Optional[_Union[_job_pb2.CacheState, str]] = ..., restricted: bool = ..., job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ..., omitted_child_count: _Optional[int] = ..., omitted_parent_count: _Optional[int] = ...) -> None: ...

class LineageFilterMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class LineageDirection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class LineageView(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class LineageRelation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class TruncationReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
