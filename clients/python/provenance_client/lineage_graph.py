"""LineageGraph: a GetLineage answer of the COMPACT view, read as the IDS view's answer."""

from functools import cached_property

from provenance.v1 import lineage_pb2


class LineageGraph:
    """The graph of a COMPACT answer, with the IDS view's nodes and edges.

    root, ancestor_depth, descendant_depth, truncated, truncation_reasons
    and hidden_node_count are the answer's own. nodes (LineageNode, nearest
    first, without the root) and edges (Edge, parent to child) equal those
    the IDS view sends, and are made from compact when first read; compact
    holds the packed form (index 0 the root, index i the node nodes[i - 1];
    edge k from index edge_indexes[2k] to edge_indexes[2k + 1]).
    """

    def __init__(self, response):
        if not response.HasField("compact"):
            raise ValueError("the answer has no compact lineage: ask GetLineage for view COMPACT")
        self.root = response.root
        self.ancestor_depth = response.ancestor_depth
        self.descendant_depth = response.descendant_depth
        self.truncated = response.truncated
        self.truncation_reasons = list(response.truncation_reasons)
        self.hidden_node_count = response.hidden_node_count
        self.compact = response.compact

    @cached_property
    def nodes(self):
        compact = self.compact
        restricted = set(compact.restricted_indexes)
        counts = compact.fan_out_omitted_counts
        # What the fan-out caps left out, by index: (children, parents).
        fan_out = {index: (counts[2 * k], counts[2 * k + 1]) for k, index in enumerate(compact.fan_out_truncated_indexes)}
        return [
            lineage_pb2.LineageNode(
                job_id=compact.job_ids[i],
                depth=compact.depths[i],
                relation=compact.relations[i],
                restricted=i in restricted,
                omitted_child_count=fan_out.get(i, (0, 0))[0],
                omitted_parent_count=fan_out.get(i, (0, 0))[1],
            )
            for i in range(1, len(compact.job_ids))
        ]

    @cached_property
    def edges(self):
        ids = self.compact.job_ids
        pairs = self.compact.edge_indexes
        return [lineage_pb2.Edge(parent_job_id=ids[pairs[k]], child_job_id=ids[pairs[k + 1]]) for k in range(0, len(pairs), 2)]
