from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from provenance.v1 import audit_pb2 as _audit_pb2
from provenance.v1 import event_pb2 as _event_pb2
from provenance.v1 import job_pb2 as _job_pb2
from provenance.v1 import lineage_pb2 as _lineage_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
GRAPH_FORMAT_DOT: GraphFormat
GRAPH_FORMAT_MERMAID: GraphFormat
GRAPH_FORMAT_NATIVE: GraphFormat
GRAPH_FORMAT_PROV_JSON: GraphFormat
GRAPH_FORMAT_UNSPECIFIED: GraphFormat
REPRODUCIBILITY_ISSUE_REASON_ANCESTOR_NOT_SUCCEEDED: ReproducibilityIssueReason
REPRODUCIBILITY_ISSUE_REASON_ANCESTRY_TRUNCATED: ReproducibilityIssueReason
REPRODUCIBILITY_ISSUE_REASON_CACHE_SALT_MISMATCH: ReproducibilityIssueReason
REPRODUCIBILITY_ISSUE_REASON_DEFINITION_HASH_MISMATCH: ReproducibilityIssueReason
REPRODUCIBILITY_ISSUE_REASON_INPUTS_INCOMPLETE: ReproducibilityIssueReason
REPRODUCIBILITY_ISSUE_REASON_INPUT_HASH_MISMATCH: ReproducibilityIssueReason
REPRODUCIBILITY_ISSUE_REASON_MISSING_ANCESTOR: ReproducibilityIssueReason
REPRODUCIBILITY_ISSUE_REASON_NO_HANDLER: ReproducibilityIssueReason
REPRODUCIBILITY_ISSUE_REASON_STALE_RESULT: ReproducibilityIssueReason
REPRODUCIBILITY_ISSUE_REASON_UNSPECIFIED: ReproducibilityIssueReason

class BatchRecordJobsRequest(_message.Message):
    __slots__ = ["requests"]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[RecordJobRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[RecordJobRequest, _Mapping]]] = ...) -> None: ...

class BatchRecordJobsResponse(_message.Message):
    __slots__ = ["results"]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[BatchRecordJobsResult]
    def __init__(self, results: _Optional[_Iterable[_Union[BatchRecordJobsResult, _Mapping]]] = ...) -> None: ...

class BatchRecordJobsResult(_message.Message):
    __slots__ = ["job", "status"]
    JOB_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    job: _job_pb2.Job
    status: _status_pb2.Status
    def __init__(self, status: _Optional[_Union[_status_pb2.Status, _Mapping]] = ..., job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ["job_id", "reason"]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    reason: str
    def __init__(self, job_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CheckReproducibilityRequest(_message.Message):
    __slots__ = ["job_id"]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class CheckReproducibilityResponse(_message.Message):
    __slots__ = ["checked_ancestor_count", "issues", "job_id", "reproducible"]
    CHECKED_ANCESTOR_COUNT_FIELD_NUMBER: _ClassVar[int]
    ISSUES_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    REPRODUCIBLE_FIELD_NUMBER: _ClassVar[int]
    checked_ancestor_count: int
    issues: _containers.RepeatedCompositeFieldContainer[ReproducibilityIssue]
    job_id: str
    reproducible: bool
    def __init__(self, job_id: _Optional[str] = ..., reproducible: bool = ..., issues: _Optional[_Iterable[_Union[ReproducibilityIssue, _Mapping]]] = ..., checked_ancestor_count: _Optional[int] = ...) -> None: ...

class CompareJobsRequest(_message.Message):
    __slots__ = ["left_job_id", "right_job_id"]
    LEFT_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    RIGHT_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    left_job_id: str
    right_job_id: str
    def __init__(self, left_job_id: _Optional[str] = ..., right_job_id: _Optional[str] = ...) -> None: ...

class CompareJobsResponse(_message.Message):
    __slots__ = ["compared_ancestor_pair_count", "difference", "divergences", "omitted_divergence_count", "truncated"]
    COMPARED_ANCESTOR_PAIR_COUNT_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCE_FIELD_NUMBER: _ClassVar[int]
    DIVERGENCES_FIELD_NUMBER: _ClassVar[int]
    OMITTED_DIVERGENCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    compared_ancestor_pair_count: int
    difference: JobDifference
    divergences: _containers.RepeatedCompositeFieldContainer[LineageDivergence]
    omitted_divergence_count: int
    truncated: bool
    def __init__(self, difference: _Optional[_Union[JobDifference, _Mapping]] = ..., divergences: _Optional[_Iterable[_Union[LineageDivergence, _Mapping]]] = ..., omitted_divergence_count: _Optional[int] = ..., truncated: bool = ..., compared_ancestor_pair_count: _Optional[int] = ...) -> None: ...

class Dependent(_message.Message):
    __slots__ = ["depth", "job"]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    depth: int
    job: _job_pb2.Job
    def __init__(self, job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ..., depth: _Optional[int] = ...) -> None: ...

class ExportProvenanceGraphRequest(_message.Message):
    __slots__ = ["as_of", "direction", "filter", "filter_mode", "format", "job_id", "max_children_per_node", "max_depth", "max_parents_per_node"]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    FILTER_MODE_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_CHILDREN_PER_NODE_FIELD_NUMBER: _ClassVar[int]
    MAX_DEPTH_FIELD_NUMBER: _ClassVar[int]
    MAX_PARENTS_PER_NODE_FIELD_NUMBER: _ClassVar[int]
    as_of: _timestamp_pb2.Timestamp
    direction: _lineage_pb2.LineageDirection
    filter: str
    filter_mode: _lineage_pb2.LineageFilterMode
    format: GraphFormat
    job_id: str
    max_children_per_node: int
    max_depth: int
    max_parents_per_node: int
    def __init__(self, job_id: _Optional[str] = ..., direction: _Optional[_Union[_lineage_pb2.LineageDirection, str]] = ..., max_depth: _Optional[int] = ..., format: _Optional[_Union[GraphFormat, str]] = ..., filter: _Optional[str] = ..., filter_mode: _Optional[_Union[_lineage_pb2.LineageFilterMode, str]] = ..., max_children_per_node: _Optional[int] = ..., max_parents_per_node: _Optional[int] = ..., as_of: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ExportProvenanceGraphResponse(_message.Message):
    __slots__ = ["content", "content_type", "edges", "fan_out_truncations", "format", "hidden_node_count", "jobs", "truncated", "truncation_reasons"]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    FAN_OUT_TRUNCATIONS_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    HIDDEN_NODE_COUNT_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    TRUNCATION_REASONS_FIELD_NUMBER: _ClassVar[int]
    content: str
    content_type: str
    edges: _containers.RepeatedCompositeFieldContainer[_lineage_pb2.Edge]
    fan_out_truncations: _containers.RepeatedCompositeFieldContainer[_lineage_pb2.FanOutTruncation]
    format: GraphFormat
    hidden_node_count: int
    jobs: _containers.RepeatedCompositeFieldContainer[_job_pb2.Job]
    truncated: bool
    truncation_reasons: _containers.RepeatedScalarFieldContainer[_lineage_pb2.TruncationReason]
    def __init__(self, jobs: _Optional[_Iterable[_Union[_job_pb2.Job, _Mapping]]] = ..., edges: _Optional[_Iterable[_Union[_lineage_pb2.Edge, _Mapping]]] = ..., truncated: bool = ..., truncation_reasons: _Optional[_Iterable[_Union[_lineage_pb2.TruncationReason, str]]] = ..., hidden_node_count: _Optional[int] = ..., format: _Optional[_Union[GraphFormat, str]] = ..., content: _Optional[str] = ..., content_type: _Optional[str] = ..., fan_out_truncations: _Optional[_Iterable[_Union[_lineage_pb2.FanOutTruncation, _Mapping]]] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ["as_of", "job_id"]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    as_of: _timestamp_pb2.Timestamp
    job_id: str
    def __init__(self, job_id: _Optional[str] = ..., as_of: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetLineageRequest(_message.Message):
    __slots__ = ["as_of", "direction", "filter", "filter_mode", "job_id", "max_children_per_node", "max_depth", "max_nodes", "max_parents_per_node", "view"]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    FILTER_MODE_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_CHILDREN_PER_NODE_FIELD_NUMBER: _ClassVar[int]
    MAX_DEPTH_FIELD_NUMBER: _ClassVar[int]
    MAX_NODES_FIELD_NUMBER: _ClassVar[int]
    MAX_PARENTS_PER_NODE_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    as_of: _timestamp_pb2.Timestamp
    direction: _lineage_pb2.LineageDirection
    filter: str
    filter_mode: _lineage_pb2.LineageFilterMode
    job_id: str
    max_children_per_node: int
    max_depth: int
    max_nodes: int
    max_parents_per_node: int
    view: _lineage_pb2.LineageView
    def __init__(self, job_id: _Optional[str] = ..., direction: _Optional[_Union[_lineage_pb2.LineageDirection, str]] = ..., max_depth: _Optional[int] = ..., max_nodes: _Optional[int] = ..., view: _Optional[_Union[_lineage_pb2.LineageView, str]] = ..., filter: _Optional[str] = ..., filter_mode: _Optional[_Union[_lineage_pb2.LineageFilterMode, str]] = ..., max_children_per_node: _Optional[int] = ..., max_parents_per_node: _Optional[int] = ..., as_of: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetLineageResponse(_message.Message):
    __slots__ = ["ancestor_depth", "compact", "descendant_depth", "edges", "hidden_node_count", "nodes", "root", "truncated", "truncation_reasons"]
    ANCESTOR_DEPTH_FIELD_NUMBER: _ClassVar[int]
    COMPACT_FIELD_NUMBER: _ClassVar[int]
    DESCENDANT_DEPTH_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    HIDDEN_NODE_COUNT_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    TRUNCATION_REASONS_FIELD_NUMBER: _ClassVar[int]
    ancestor_depth: int
    compact: _lineage_pb2.CompactLineage
    descendant_depth: int
    edges: _containers.RepeatedCompositeFieldContainer[_lineage_pb2.Edge]
    hidden_node_count: int
    nodes: _containers.RepeatedCompositeFieldContainer[_lineage_pb2.LineageNode]
    root: _lineage_pb2.LineageNode
    truncated: bool
    truncation_reasons: _containers.RepeatedScalarFieldContainer[_lineage_pb2.TruncationReason]
    def __init__(self, root: _Optional[_Union[_lineage_pb2.LineageNode, _Mapping]] = ..., nodes: _Optional[_Iterable[_Union[_lineage_pb2.LineageNode, _Mapping]]] = ..., edges: _Optional[_Iterable[_Union[_lineage_pb2.Edge, _Mapping]]] = ..., ancestor_depth: _Optional[int] = ..., descendant_depth: _Optional[int] = ..., truncated: bool = ..., truncation_reasons: _Optional[_Iterable[_Union[_lineage_pb2.TruncationReason, str]]] = ..., hidden_node_count: _Optional[int] = ..., compact: _Optional[_Union[_lineage_pb2.CompactLineage, _Mapping]] = ...) -> None: ...

class InvalidateCacheRequest(_message.Message):
    __slots__ = ["dry_run", "job_id"]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    dry_run: bool
    job_id: str
    def __init__(self, job_id: _Optional[str] = ..., dry_run: bool = ...) -> None: ...

class InvalidateCacheResponse(_message.Message):
    __slots__ = ["affected_count", "affected_job_ids", "dry_run", "skipped_count", "skipped_job_ids"]
    AFFECTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    AFFECTED_JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_COUNT_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    affected_count: int
    affected_job_ids: _containers.RepeatedScalarFieldContainer[str]
    dry_run: bool
    skipped_count: int
    skipped_job_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, affected_job_ids: _Optional[_Iterable[str]] = ..., affected_count: _Optional[int] = ..., dry_run: bool = ..., skipped_job_ids: _Optional[_Iterable[str]] = ..., skipped_count: _Optional[int] = ...) -> None: ...

class JobDifference(_message.Message):
    __slots__ = ["definition_hash_equal", "left_job_id", "left_output_hash", "left_type", "omitted_payload_difference_count", "output_hash_equal", "parent_output_differences", "payload_differences", "provider_changes", "right_job_id", "right_output_hash", "right_type", "unaligned_left_parent_job_ids", "unaligned_right_parent_job_ids"]
    DEFINITION_HASH_EQUAL_FIELD_NUMBER: _ClassVar[int]
    LEFT_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    LEFT_OUTPUT_HASH_FIELD_NUMBER: _ClassVar[int]
    LEFT_TYPE_FIELD_NUMBER: _ClassVar[int]
    OMITTED_PAYLOAD_DIFFERENCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_HASH_EQUAL_FIELD_NUMBER: _ClassVar[int]
    PARENT_OUTPUT_DIFFERENCES_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_DIFFERENCES_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_CHANGES_FIELD_NUMBER: _ClassVar[int]
    RIGHT_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    RIGHT_OUTPUT_HASH_FIELD_NUMBER: _ClassVar[int]
    RIGHT_TYPE_FIELD_NUMBER: _ClassVar[int]
    UNALIGNED_LEFT_PARENT_JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    UNALIGNED_RIGHT_PARENT_JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    definition_hash_equal: bool
    left_job_id: str
    left_output_hash: str
    left_type: str
    omitted_payload_difference_count: int
    output_hash_equal: bool
    parent_output_differences: _containers.RepeatedCompositeFieldContainer[ParentOutputDifference]
    payload_differences: _containers.RepeatedCompositeFieldContainer[PayloadDifference]
    provider_changes: _containers.RepeatedCompositeFieldContainer[ProviderChange]
    right_job_id: str
    right_output_hash: str
    right_type: str
    unaligned_left_parent_job_ids: _containers.RepeatedScalarFieldContainer[str]
    unaligned_right_parent_job_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, left_job_id: _Optional[str] = ..., right_job_id: _Optional[str] = ..., definition_hash_equal: bool = ..., left_type: _Optional[str] = ..., right_type: _Optional[str] = ..., payload_differences: _Optional[_Iterable[_Union[PayloadDifference, _Mapping]]] = ..., omitted_payload_difference_count: _Optional[int] = ..., provider_changes: _Optional[_Iterable[_Union[ProviderChange, _Mapping]]] = ..., output_hash_equal: bool = ..., left_output_hash: _Optional[str] = ..., right_output_hash: _Optional[str] = ..., parent_output_differences: _Optional[_Iterable[_Union[ParentOutputDifference, _Mapping]]] = ..., unaligned_left_parent_job_ids: _Optional[_Iterable[str]] = ..., unaligned_right_parent_job_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class LineageDivergence(_message.Message):
    __slots__ = ["depth", "difference", "restricted"]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCE_FIELD_NUMBER: _ClassVar[int]
    RESTRICTED_FIELD_NUMBER: _ClassVar[int]
    depth: int
    difference: JobDifference
    restricted: bool
    def __init__(self, depth: _Optional[int] = ..., difference: _Optional[_Union[JobDifference, _Mapping]] = ..., restricted: bool = ...) -> None: ...

class ListAuditEventsRequest(_message.Message):
    __slots__ = ["filter", "page_size", "page_token"]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    filter: str
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., filter: _Optional[str] = ...) -> None: ...

class ListAuditEventsResponse(_message.Message):
    __slots__ = ["audit_events", "next_page_token"]
    AUDIT_EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    audit_events: _containers.RepeatedCompositeFieldContainer[_audit_pb2.AuditEvent]
    next_page_token: str
    def __init__(self, audit_events: _Optional[_Iterable[_Union[_audit_pb2.AuditEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListDependentsRequest(_message.Message):
    __slots__ = ["as_of", "job_id", "page_size", "page_token", "transitive"]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TRANSITIVE_FIELD_NUMBER: _ClassVar[int]
    as_of: _timestamp_pb2.Timestamp
    job_id: str
    page_size: int
    page_token: str
    transitive: bool
    def __init__(self, job_id: _Optional[str] = ..., transitive: bool = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., as_of: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListDependentsResponse(_message.Message):
    __slots__ = ["dependents", "hidden_node_count", "next_page_token", "truncated"]
    DEPENDENTS_FIELD_NUMBER: _ClassVar[int]
    HIDDEN_NODE_COUNT_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    dependents: _containers.RepeatedCompositeFieldContainer[Dependent]
    hidden_node_count: int
    next_page_token: str
    truncated: bool
    def __init__(self, dependents: _Optional[_Iterable[_Union[Dependent, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., truncated: bool = ..., hidden_node_count: _Optional[int] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ["filter", "page_size", "page_token"]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    filter: str
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., filter: _Optional[str] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ["jobs", "next_page_token"]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[_job_pb2.Job]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[_job_pb2.Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ParentOutputDifference(_message.Message):
    __slots__ = ["left_output_hash", "left_parent_job_id", "right_output_hash", "right_parent_job_id"]
    LEFT_OUTPUT_HASH_FIELD_NUMBER: _ClassVar[int]
    LEFT_PARENT_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    RIGHT_OUTPUT_HASH_FIELD_NUMBER: _ClassVar[int]
    RIGHT_PARENT_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    left_output_hash: str
    left_parent_job_id: str
    right_output_hash: str
    right_parent_job_id: str
    def __init__(self, left_parent_job_id: _Optional[str] = ..., right_parent_job_id: _Optional[str] = ..., left_output_hash: _Optional[str] = ..., right_output_hash: _Optional[str] = ...) -> None: ...

class PayloadDifference(_message.Message):
    __slots__ = ["left_value_json", "path", "right_value_json", "values_omitted"]
    LEFT_VALUE_JSON_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    RIGHT_VALUE_JSON_FIELD_NUMBER: _ClassVar[int]
    VALUES_OMITTED_FIELD_NUMBER: _ClassVar[int]
    left_value_json: str
    path: str
    right_value_json: str
    values_omitted: bool
    def __init__(self, path: _Optional[str] = ..., left_value_json: _Optional[str] = ..., right_value_json: _Optional[str] = ..., values_omitted: bool = ...) -> None: ...

class ProviderChange(_message.Message):
    __slots__ = ["field", "left_value", "right_value"]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    LEFT_VALUE_FIELD_NUMBER: _ClassVar[int]
    RIGHT_VALUE_FIELD_NUMBER: _ClassVar[int]
    field: str
    left_value: str
    right_value: str
    def __init__(self, field: _Optional[str] = ..., left_value: _Optional[str] = ..., right_value: _Optional[str] = ...) -> None: ...

class RecordJobRequest(_message.Message):
    __slots__ = ["allow_missing_parents", "attempt", "cache_salt", "complete_time", "error", "etag", "job_id", "labels", "metadata", "output", "output_hash", "parent_job_ids", "payload", "provider", "reader_subjects", "request_id", "start_time", "status", "type"]
    class LabelsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ALLOW_MISSING_PARENTS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    CACHE_SALT_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_TIME_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_HASH_FIELD_NUMBER: _ClassVar[int]
    PARENT_JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    READER_SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    allow_missing_parents: bool
    attempt: int
    cache_salt: str
    complete_time: _timestamp_pb2.Timestamp
    error: _job_pb2.JobError
    etag: str
    job_id: str
    labels: _containers.ScalarMap[str, str]
    metadata: _struct_pb2.Struct
    output: _struct_pb2.Value
    output_hash: str
    parent_job_ids: _containers.RepeatedScalarFieldContainer[str]
    payload: _struct_pb2.Struct
    provider: _job_pb2.Provider
    reader_subjects: _containers.RepeatedScalarFieldContainer[str]
    request_id: str
    start_time: _timestamp_pb2.Timestamp
    status: _job_pb2.JobStatus
    type: str
    def __init__(self, job_id: _Optional[str] = ..., request_id: _Optional[str] = ..., type: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., provider: _Optional[_Union[_job_pb2.Provider, _Mapping]] = ..., parent_job_ids: _Optional[_Iterable[str]] = ..., status: _Optional[_Union[_job_pb2.JobStatus, str]] = ..., start_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., complete_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., output_hash: _Optional[str] = ..., output: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., error: _Optional[_Union[_job_pb2.JobError, _Mapping]] = ..., labels: _Optional[_Mapping[str, str]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., allow_missing_parents: bool = ..., reader_subjects: _Optional[_Iterable[str]] = ..., attempt: _Optional[int] = ..., etag: _Optional[str] = ..., cache_salt: _Optional[str] = ...) -> None: ...

class ReproducibilityIssue(_message.Message):
    __slots__ = ["job_id", "message", "reason"]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    message: str
    reason: ReproducibilityIssueReason
    def __init__(self, reason: _Optional[_Union[ReproducibilityIssueReason, str]] = ..., job_id: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class RerunJobRequest(_message.Message):
    __slots__ = ["cache_policy", "cache_salt", "job_id", "parent_job_ids", "payload_overrides", "payload_replacement", "replace_parents", "request_id"]
    CACHE_POLICY_FIELD_NUMBER: _ClassVar[int]
    CACHE_SALT_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_OVERRIDES_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_REPLACEMENT_FIELD_NUMBER: _ClassVar[int]
    REPLACE_PARENTS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    cache_policy: _job_pb2.CachePolicy
    cache_salt: str
    job_id: str
    parent_job_ids: _containers.RepeatedScalarFieldContainer[str]
    payload_overrides: _struct_pb2.Struct
    payload_replacement: _struct_pb2.Struct
    replace_parents: bool
    request_id: str
    def __init__(self, job_id: _Optional[str] = ..., payload_overrides: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., payload_replacement: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., parent_job_ids: _Optional[_Iterable[str]] = ..., replace_parents: bool = ..., cache_policy: _Optional[_Union[_job_pb2.CachePolicy, str]] = ..., request_id: _Optional[str] = ..., cache_salt: _Optional[str] = ...) -> None: ...

class SetReaderSubjectsRequest(_message.Message):
    __slots__ = ["etag", "job_id", "reader_subjects"]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    READER_SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    etag: str
    job_id: str
    reader_subjects: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, job_id: _Optional[str] = ..., reader_subjects: _Optional[_Iterable[str]] = ..., etag: _Optional[str] = ...) -> None: ...

class StreamLineageRequest(_message.Message):
    __slots__ = ["as_of", "direction", "filter", "filter_mode", "job_id", "max_children_per_node", "max_depth", "max_message_nodes", "max_parents_per_node", "resume_token"]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    FILTER_MODE_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_CHILDREN_PER_NODE_FIELD_NUMBER: _ClassVar[int]
    MAX_DEPTH_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_NODES_FIELD_NUMBER: _ClassVar[int]
    MAX_PARENTS_PER_NODE_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    as_of: _timestamp_pb2.Timestamp
    direction: _lineage_pb2.LineageDirection
    filter: str
    filter_mode: _lineage_pb2.LineageFilterMode
    job_id: str
    max_children_per_node: int
    max_depth: int
    max_message_nodes: int
    max_parents_per_node: int
    resume_token: str
    def __init__(self, job_id: _Optional[str] = ..., direction: _Optional[_Union[_lineage_pb2.LineageDirection, str]] = ..., max_depth: _Optional[int] = ..., resume_token: _Optional[str] = ..., max_message_nodes: _Optional[int] = ..., filter: _Optional[str] = ..., filter_mode: _Optional[_Union[_lineage_pb2.LineageFilterMode, str]] = ..., max_children_per_node: _Optional[int] = ..., max_parents_per_node: _Optional[int] = ..., as_of: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StreamLineageResponse(_message.Message):
    __slots__ = ["edges", "last", "nodes", "resume_token", "root", "truncated", "truncation_reasons"]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    TRUNCATION_REASONS_FIELD_NUMBER: _ClassVar[int]
    edges: _containers.RepeatedCompositeFieldContainer[_lineage_pb2.Edge]
    last: bool
    nodes: _containers.RepeatedCompositeFieldContainer[_lineage_pb2.LineageNode]
    resume_token: str
    root: _lineage_pb2.LineageNode
    truncated: bool
    truncation_reasons: _containers.RepeatedScalarFieldContainer[_lineage_pb2.TruncationReason]
    def __init__(self, root: _Optional[_Union[_lineage_pb2.LineageNode, _Mapping]] = ..., nodes: _Optional[_Iterable[_Union[_lineage_pb2.LineageNode, _Mapping]]] = ..., edges: _Optional[_Iterable[_Union[_lineage_pb2.Edge, _Mapping]]] = ..., resume_token: _Optional[str] = ..., truncated: bool = ..., truncation_reasons: _Optional[_Iterable[_Union[_lineage_pb2.TruncationReason, str]]] = ..., last: bool = ...) -> None: ...

class SubmitJobRequest(_message.Message):
    __slots__ = ["cache_policy", "cache_salt", "job_id", "labels", "metadata", "parent_job_ids", "payload", "provider", "reader_subjects", "request_id", "type"]
    class LabelsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CACHE_POLICY_FIELD_NUMBER: _ClassVar[int]
    CACHE_SALT_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    PARENT_JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    READER_SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    cache_policy: _job_pb2.CachePolicy
    cache_salt: str
    job_id: str
    labels: _containers.ScalarMap[str, str]
    metadata: _struct_pb2.Struct
    parent_job_ids: _containers.RepeatedScalarFieldContainer[str]
    payload: _struct_pb2.Struct
    provider: _job_pb2.Provider
    reader_subjects: _containers.RepeatedScalarFieldContainer[str]
    request_id: str
    type: str
    def __init__(self, type: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., provider: _Optional[_Union[_job_pb2.Provider, _Mapping]] = ..., parent_job_ids: _Optional[_Iterable[str]] = ..., labels: _Optional[_Mapping[str, str]] = ..., cache_policy: _Optional[_Union[_job_pb2.CachePolicy, str]] = ..., request_id: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., reader_subjects: _Optional[_Iterable[str]] = ..., job_id: _Optional[str] = ..., cache_salt: _Optional[str] = ...) -> None: ...

class WatchEventsRequest(_message.Message):
    __slots__ = ["after_cursor", "event_types", "job_ids", "labels", "lineage_of", "start_position"]
    class LabelsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AFTER_CURSOR_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    LINEAGE_OF_FIELD_NUMBER: _ClassVar[int]
    START_POSITION_FIELD_NUMBER: _ClassVar[int]
    after_cursor: str
    event_types: _containers.RepeatedScalarFieldContainer[str]
    job_ids: _containers.RepeatedScalarFieldContainer[str]
    labels: _containers.ScalarMap[str, str]
    lineage_of: str
    start_position: _event_pb2.StartPosition
    def __init__(self, job_ids: _Optional[_Iterable[str]] = ..., lineage_of: _Optional[str] = ..., event_types: _Optional[_Iterable[str]] = ..., labels: _Optional[_Mapping[str, str]] = ..., start_position: _Optional[_Union[_event_pb2.StartPosition, str]] = ..., after_cursor: _Optional[str] = ...) -> None: ...

class WatchEventsResponse(_message.Message):
    __slots__ = ["event"]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: _event_pb2.ProvenanceEvent
    def __init__(self, event: _Optional[_Union[_event_pb2.ProvenanceEvent, _Mapping]] = ...) -> None: ...

class GraphFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ReproducibilityIssueReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
