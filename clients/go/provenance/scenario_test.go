package provenance_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	provenancev1 "example.com/provenance/clients/go/gen/provenance/v1"
	"example.com/provenance/clients/go/provenance"
)

// scenarioOutput holds exactly the keys docs/clients-scenario.md lists.
type scenarioOutput struct {
	VectorHashes          []vectorHash    `json:"vectorHashes"`
	Lineage               scenarioLineage `json:"lineage"`
	CappedLineage         cappedLineage   `json:"cappedLineage"`
	Events                []string        `json:"events"`
	FinalStatus           string          `json:"finalStatus"`
	Reproducible          bool            `json:"reproducible"`
	Issues                []string        `json:"issues"`
	DefinitionHashMatches bool            `json:"definitionHashMatches"`
}

type vectorHash struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

type cappedLineage struct {
	Nodes              [][2]any    `json:"nodes"` // [id, depth]
	Edges              [][2]string `json:"edges"` // [parent, child]
	RootOmittedParents int32       `json:"rootOmittedParents"`
}

type scenarioLineage struct {
	Nodes [][2]any    `json:"nodes"` // [id, depth]
	Edges [][2]string `json:"edges"` // [parent, child]
}

// TestScenario runs the scenario that every client runs against one server
// (docs/clients-scenario.md) and writes what it saw to
// PROVENANCE_SCENARIO_OUTPUT; the npm test compares the three languages.
func TestScenario(t *testing.T) {
	outputPath := os.Getenv("PROVENANCE_SCENARIO_OUTPUT")
	if outputPath == "" {
		t.Skip("PROVENANCE_SCENARIO_OUTPUT is not set: the shared client scenario runs only when npm test asks for it")
	}
	prefix := os.Getenv("PROVENANCE_SCENARIO_PREFIX")
	if prefix == "" || os.Getenv("PROVENANCE_ADDRESS") == "" {
		t.Fatal("the scenario needs PROVENANCE_ADDRESS and PROVENANCE_SCENARIO_PREFIX")
	}
	client := dialLiveServer(t)
	ctx := context.Background()
	id := func(name string) string { return prefix + "-" + name }
	// Empty lists are written as [], never null.
	output := scenarioOutput{
		VectorHashes: []vectorHash{}, Lineage: scenarioLineage{Nodes: [][2]any{}, Edges: [][2]string{}}, Events: []string{}, Issues: []string{},
	}

	// 1. Hashes of the vectors, computed by this client.
	vectorsPath := os.Getenv("PROVENANCE_HASH_VECTORS")
	if vectorsPath == "" {
		vectorsPath = filepath.Join("..", "..", "..", "test", "fixtures", "hash-vectors.json")
	}
	vectorsText, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	var vectors struct {
		VolatileKeys []string `json:"volatileKeys"`
		Definition   []struct {
			Name        string `json:"name"`
			Type        string `json:"type"`
			PayloadJSON string `json:"payloadJson"`
		} `json:"definition"`
	}
	if err := json.Unmarshal(vectorsText, &vectors); err != nil {
		t.Fatal(err)
	}
	for _, vector := range vectors.Definition {
		var payload map[string]any
		if err := json.Unmarshal([]byte(vector.PayloadJSON), &payload); err != nil {
			t.Fatal(err)
		}
		hash, err := provenance.DefinitionHash(vector.Type, payload, vectors.VolatileKeys)
		if err != nil {
			t.Fatal(err)
		}
		output.VectorHashes = append(output.VectorHashes, vectorHash{Name: vector.Name, SHA256: hash})
	}

	// 2. A recorded DAG: a ← b, and c after both.
	succeeded := provenancev1.JobStatus_JOB_STATUS_SUCCEEDED
	for _, request := range []*provenancev1.RecordJobRequest{
		{JobId: id("a"), Type: "echo", Status: succeeded, Payload: mustStruct(t, map[string]any{"n": 1.0}), OutputHash: "h-a"},
		{JobId: id("b"), Type: "echo", Status: succeeded, ParentJobIds: []string{id("a")},
			Payload: mustStruct(t, map[string]any{"n": 2.0}), Output: mustValue(t, map[string]any{"b": true})},
		{JobId: id("c"), Type: "echo", Status: succeeded, ParentJobIds: []string{id("a"), id("b")},
			Payload: mustStruct(t, map[string]any{"n": 3.0, "requestedAt": "2026-01-01T00:00:00Z"}), OutputHash: "h-c"},
	} {
		if _, err := client.RecordJob(ctx, request); err != nil {
			t.Fatalf("recording %s: %v", request.JobId, err)
		}
	}

	// 3. The ancestors of c, without the prefix, sorted.
	lineage, err := client.GetLineage(ctx, &provenancev1.GetLineageRequest{
		JobId: id("c"), Direction: provenancev1.LineageDirection_LINEAGE_DIRECTION_ANCESTORS,
	})
	if err != nil {
		t.Fatal(err)
	}
	unprefixed := func(jobID string) string { return strings.TrimPrefix(jobID, prefix+"-") }
	for _, node := range lineage.Nodes {
		output.Lineage.Nodes = append(output.Lineage.Nodes, [2]any{unprefixed(node.JobId), node.Depth})
	}
	sort.Slice(output.Lineage.Nodes, func(i, j int) bool {
		a, b := output.Lineage.Nodes[i], output.Lineage.Nodes[j]
		return a[0].(string) < b[0].(string) || a[0] == b[0] && a[1].(int32) < b[1].(int32)
	})
	for _, edge := range lineage.Edges {
		output.Lineage.Edges = append(output.Lineage.Edges, [2]string{unprefixed(edge.ParentJobId), unprefixed(edge.ChildJobId)})
	}
	sort.Slice(output.Lineage.Edges, func(i, j int) bool {
		a, b := output.Lineage.Edges[i], output.Lineage.Edges[j]
		return a[0] < b[0] || a[0] == b[0] && a[1] < b[1]
	})

	// 3b. The same lineage, filtered (PRUNE) and capped at one parent per job.
	capped, err := client.GetLineage(ctx, &provenancev1.GetLineageRequest{
		JobId: id("c"), Direction: provenancev1.LineageDirection_LINEAGE_DIRECTION_ANCESTORS,
		Filter: "status = SUCCEEDED", FilterMode: provenancev1.LineageFilterMode_LINEAGE_FILTER_MODE_PRUNE, MaxParentsPerNode: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	output.CappedLineage = cappedLineage{Nodes: [][2]any{}, Edges: [][2]string{}, RootOmittedParents: capped.Root.OmittedParentCount}
	for _, node := range capped.Nodes {
		output.CappedLineage.Nodes = append(output.CappedLineage.Nodes, [2]any{unprefixed(node.JobId), node.Depth})
	}
	for _, edge := range capped.Edges {
		output.CappedLineage.Edges = append(output.CappedLineage.Edges, [2]string{unprefixed(edge.ParentJobId), unprefixed(edge.ChildJobId)})
	}

	// 4. The events of a submitted job, until its provenance is complete.
	watchCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	watched := make(chan error, 1)
	go func() {
		// From the oldest event kept, so that none of d's events can pass
		// before the subscription is open; the filter holds only d.
		watched <- client.WatchEvents(watchCtx, &provenancev1.WatchEventsRequest{
			JobIds: []string{id("d")}, StartPosition: provenancev1.StartPosition_START_POSITION_OLDEST,
		}, func(event *provenancev1.ProvenanceEvent) error {
			output.Events = append(output.Events, event.Type)
			if event.Type == "job.provenance.completed" {
				return provenance.StopWatching
			}
			return nil
		})
	}()
	submittedPayload := map[string]any{"msg": "hi"}
	if _, err := client.SubmitJob(ctx, &provenancev1.SubmitJobRequest{
		JobId: id("d"), Type: "echo", Payload: mustStruct(t, submittedPayload), ParentJobIds: []string{id("c")},
	}); err != nil {
		t.Fatal(err)
	}
	if err := <-watched; err != nil {
		t.Fatalf("watching d: %v (events so far: %v)", err, output.Events)
	}
	submitted, err := client.GetJob(ctx, id("d"))
	if err != nil {
		t.Fatal(err)
	}
	output.FinalStatus = submitted.Status.String()

	// 5. Whether c can be reproduced.
	check, err := client.CheckReproducibility(ctx, id("c"))
	if err != nil {
		t.Fatal(err)
	}
	output.Reproducible = check.Reproducible
	for _, issue := range check.Issues {
		output.Issues = append(output.Issues, issue.Reason.String())
	}
	sort.Strings(output.Issues)

	// 6. The server's definition hash of d against this client's.
	ownHash, err := provenance.DefinitionHash("echo", submittedPayload, provenance.DefaultVolatileKeys)
	if err != nil {
		t.Fatal(err)
	}
	output.DefinitionHashMatches = ownHash == submitted.DefinitionHash

	text, err := json.MarshalIndent(output, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(outputPath, append(text, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
