"""Python client of the provenance service: ProvenanceClient, error decoding and the hashes."""

import os
import sys

# protoc names the generated modules after the proto packages and makes them
# import each other absolutely (provenance.v1..., google.rpc...), so their
# folder has to be on sys.path. Appended, so that nothing already importable
# is shadowed; google/ there has no __init__.py and merges with the installed
# google namespace package (google.protobuf).
_GENERATED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gen")
if _GENERATED not in sys.path:
    sys.path.append(_GENERATED)

from .client import EventStream, ProvenanceClient, ResumePolicy, Resumption  # noqa: E402
from .errors import ErrorDetails, error_details  # noqa: E402
from .lineage_graph import LineageGraph  # noqa: E402

__all__ = ["ProvenanceClient", "EventStream", "ResumePolicy", "Resumption", "ErrorDetails", "error_details", "LineageGraph"]
