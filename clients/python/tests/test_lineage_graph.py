"""LineageGraph reads a COMPACT answer as the IDS view's nodes and edges (no server needed)."""

import unittest

from provenance_client import LineageGraph

from provenance.v1 import lineage_pb2, provenance_service_pb2

ROOT, ANCESTOR, DESCENDANT = (
    lineage_pb2.LINEAGE_RELATION_ROOT,
    lineage_pb2.LINEAGE_RELATION_ANCESTOR,
    lineage_pb2.LINEAGE_RELATION_DESCENDANT,
)


class LineageGraphTest(unittest.TestCase):
    def test_nodes_and_edges_are_those_of_the_ids_view(self):
        # model <- features <- raw, model <- raw; a restricted placeholder consumed model.
        wire = provenance_service_pb2.GetLineageResponse(
            root=lineage_pb2.LineageNode(job_id="model", relation=ROOT),
            ancestor_depth=2,
            descendant_depth=1,
            hidden_node_count=1,
            compact=lineage_pb2.CompactLineage(
                job_ids=["model", "features", "opaque-1", "raw"],
                depths=[0, 1, 1, 2],
                relations=[ROOT, ANCESTOR, DESCENDANT, ANCESTOR],
                restricted_indexes=[2],
                edge_indexes=[1, 0, 3, 0, 3, 1, 0, 2],
                # The caps left out 3 children of the root (carried by root itself) and 2 parents of features.
                fan_out_truncated_indexes=[0, 1],
                fan_out_omitted_counts=[3, 0, 0, 2],
            ),
        ).SerializeToString()
        graph = LineageGraph(provenance_service_pb2.GetLineageResponse.FromString(wire))

        self.assertEqual(graph.root.job_id, "model")
        self.assertEqual((graph.ancestor_depth, graph.descendant_depth, graph.hidden_node_count), (2, 1, 1))
        self.assertEqual(
            graph.nodes,
            [
                lineage_pb2.LineageNode(job_id="features", depth=1, relation=ANCESTOR, omitted_parent_count=2),
                lineage_pb2.LineageNode(job_id="opaque-1", depth=1, relation=DESCENDANT, restricted=True),
                lineage_pb2.LineageNode(job_id="raw", depth=2, relation=ANCESTOR),
            ],
        )
        self.assertEqual(
            [(edge.parent_job_id, edge.child_job_id) for edge in graph.edges],
            [("features", "model"), ("raw", "model"), ("raw", "features"), ("model", "opaque-1")],
        )

    def test_an_answer_of_another_view_is_refused(self):
        with self.assertRaises(ValueError):
            LineageGraph(provenance_service_pb2.GetLineageResponse())


if __name__ == "__main__":
    unittest.main()
