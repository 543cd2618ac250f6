package provenance

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	provenancev1 "example.com/provenance/clients/go/gen/provenance/v1"
)

// GetLineageGraph asks GetLineage for the COMPACT view (whatever
// request.View says) and returns the answer the IDS view would have given:
// the same nodes and edges, sent as job ids once and index pairs, which
// saves most of the bytes and the decoding of a large lineage.
func (c *Client) GetLineageGraph(ctx context.Context, request *provenancev1.GetLineageRequest) (*provenancev1.GetLineageResponse, error) {
	compactRequest := proto.Clone(request).(*provenancev1.GetLineageRequest)
	compactRequest.View = provenancev1.LineageView_LINEAGE_VIEW_COMPACT
	response, err := c.stub.GetLineage(ctx, compactRequest)
	if err != nil {
		return nil, err
	}
	return ExpandCompactLineage(response)
}

// ExpandCompactLineage turns an answer of the COMPACT view into the IDS
// view's: Nodes and Edges made from Compact, Compact left unset. The
// answer given is not changed.
func ExpandCompactLineage(response *provenancev1.GetLineageResponse) (*provenancev1.GetLineageResponse, error) {
	compact := response.GetCompact()
	if compact == nil {
		return nil, errors.New("the answer has no compact lineage: ask GetLineage for LINEAGE_VIEW_COMPACT")
	}
	ids := compact.JobIds
	if len(ids) == 0 || len(compact.Depths) != len(ids) || len(compact.Relations) != len(ids) || len(compact.EdgeIndexes)%2 != 0 {
		return nil, fmt.Errorf("malformed compact lineage: %d ids, %d depths, %d relations, %d edge indexes",
			len(ids), len(compact.Depths), len(compact.Relations), len(compact.EdgeIndexes))
	}
	restricted := make(map[uint32]bool, len(compact.RestrictedIndexes))
	for _, index := range compact.RestrictedIndexes {
		restricted[index] = true
	}
	if len(compact.FanOutOmittedCounts) != 2*len(compact.FanOutTruncatedIndexes) {
		return nil, fmt.Errorf("malformed compact lineage: %d fan-out indexes, %d counts", len(compact.FanOutTruncatedIndexes), len(compact.FanOutOmittedCounts))
	}
	nodes := make([]*provenancev1.LineageNode, len(ids)-1)
	for i := 1; i < len(ids); i++ {
		nodes[i-1] = &provenancev1.LineageNode{JobId: ids[i], Depth: compact.Depths[i], Relation: compact.Relations[i], Restricted: restricted[uint32(i)]}
	}
	// What the fan-out caps left out: index 0 is the root, which the answer carries whole.
	for k, index := range compact.FanOutTruncatedIndexes {
		if index == 0 || int(index) >= len(ids) {
			continue
		}
		nodes[index-1].OmittedChildCount = int32(compact.FanOutOmittedCounts[2*k])
		nodes[index-1].OmittedParentCount = int32(compact.FanOutOmittedCounts[2*k+1])
	}
	edges := make([]*provenancev1.Edge, len(compact.EdgeIndexes)/2)
	for k := range edges {
		parent, child := compact.EdgeIndexes[2*k], compact.EdgeIndexes[2*k+1]
		if int(parent) >= len(ids) || int(child) >= len(ids) {
			return nil, fmt.Errorf("malformed compact lineage: edge %d names index %d or %d of %d ids", k, parent, child, len(ids))
		}
		edges[k] = &provenancev1.Edge{ParentJobId: ids[parent], ChildJobId: ids[child]}
	}
	return &provenancev1.GetLineageResponse{
		Root:              response.Root,
		Nodes:             nodes,
		Edges:             edges,
		AncestorDepth:     response.AncestorDepth,
		DescendantDepth:   response.DescendantDepth,
		Truncated:         response.Truncated,
		TruncationReasons: response.TruncationReasons,
		HiddenNodeCount:   response.HiddenNodeCount,
	}, nil
}
