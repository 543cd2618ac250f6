package provenance

import (
	"testing"

	"google.golang.org/protobuf/proto"

	provenancev1 "example.com/provenance/clients/go/gen/provenance/v1"
)

func TestExpandCompactLineageGivesTheIDSViewsAnswer(t *testing.T) {
	root, ancestor, descendant := provenancev1.LineageRelation_LINEAGE_RELATION_ROOT, provenancev1.LineageRelation_LINEAGE_RELATION_ANCESTOR, provenancev1.LineageRelation_LINEAGE_RELATION_DESCENDANT
	rootNode := &provenancev1.LineageNode{JobId: "model", Relation: root}
	// model <- features <- raw, model <- raw; a restricted placeholder consumed model.
	wire, err := proto.Marshal(&provenancev1.GetLineageResponse{
		Root: rootNode, AncestorDepth: 2, DescendantDepth: 1, HiddenNodeCount: 1,
		Compact: &provenancev1.CompactLineage{
			JobIds:            []string{"model", "features", "opaque-1", "raw"},
			Depths:            []int32{0, 1, 1, 2},
			Relations:         []provenancev1.LineageRelation{root, ancestor, descendant, ancestor},
			RestrictedIndexes: []uint32{2},
			EdgeIndexes:       []uint32{1, 0, 3, 0, 3, 1, 0, 2},
			// The caps left out 3 children of the root (carried by Root itself) and 2 parents of features.
			FanOutTruncatedIndexes: []uint32{0, 1},
			FanOutOmittedCounts:    []uint32{3, 0, 0, 2},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	compact := &provenancev1.GetLineageResponse{}
	if err := proto.Unmarshal(wire, compact); err != nil {
		t.Fatal(err)
	}
	got, err := ExpandCompactLineage(compact)
	if err != nil {
		t.Fatal(err)
	}
	want := &provenancev1.GetLineageResponse{
		Root: rootNode, AncestorDepth: 2, DescendantDepth: 1, HiddenNodeCount: 1,
		Nodes: []*provenancev1.LineageNode{
			{JobId: "features", Depth: 1, Relation: ancestor, OmittedParentCount: 2},
			{JobId: "opaque-1", Depth: 1, Relation: descendant, Restricted: true},
			{JobId: "raw", Depth: 2, Relation: ancestor},
		},
		Edges: []*provenancev1.Edge{
			{ParentJobId: "features", ChildJobId: "model"}, {ParentJobId: "raw", ChildJobId: "model"},
			{ParentJobId: "raw", ChildJobId: "features"}, {ParentJobId: "model", ChildJobId: "opaque-1"},
		},
	}
	if !proto.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestExpandCompactLineageRefusesWhatIsNotACompactAnswer(t *testing.T) {
	if _, err := ExpandCompactLineage(&provenancev1.GetLineageResponse{}); err == nil {
		t.Error("an answer without compact was expanded")
	}
	malformed := &provenancev1.GetLineageResponse{Compact: &provenancev1.CompactLineage{
		JobIds: []string{"a"}, Depths: []int32{0}, Relations: []provenancev1.LineageRelation{provenancev1.LineageRelation_LINEAGE_RELATION_ROOT}, EdgeIndexes: []uint32{0, 5},
	}}
	if _, err := ExpandCompactLineage(malformed); err == nil {
		t.Error("an edge naming an index past the ids was expanded")
	}
}
