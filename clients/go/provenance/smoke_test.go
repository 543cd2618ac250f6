package provenance_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	provenancev1 "example.com/provenance/clients/go/gen/provenance/v1"
	"example.com/provenance/clients/go/provenance"
)

// connections dials TCP for grpc-go and can drop every connection it made,
// as a network failure would.
type connections struct {
	mu     sync.Mutex
	opened []net.Conn
}

func (c *connections) dial(ctx context.Context, address string) (net.Conn, error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", address)
	if err == nil {
		c.mu.Lock()
		c.opened = append(c.opened, conn)
		c.mu.Unlock()
	}
	return conn, err
}

func (c *connections) dropAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.opened {
		conn.Close()
	}
}

func (c *connections) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.opened)
}

func randomPrefix(t *testing.T) string {
	t.Helper()
	random := make([]byte, 4)
	if _, err := rand.Read(random); err != nil {
		t.Fatal(err)
	}
	return "go-smoke-" + hex.EncodeToString(random)
}

// TestSmoke records a small DAG and checks its hashes against the client's
// own, reads its lineage, and follows a submitted job's events across a
// dropped connection.
func TestSmoke(t *testing.T) {
	if os.Getenv("PROVENANCE_ADDRESS") == "" {
		t.Skip("PROVENANCE_ADDRESS is not set: the smoke test needs a live server (host:port, plaintext, no authentication)")
	}
	network := &connections{}
	client := dialLiveServer(t, provenance.WithDialOptions(grpc.WithContextDialer(network.dial)))
	ctx := context.Background()
	prefix := randomPrefix(t)
	succeeded := provenancev1.JobStatus_JOB_STATUS_SUCCEEDED

	rawPayload := map[string]any{"source": "s3://bucket/raw.csv", "requestedAt": "2026-11-26T09:00:00Z"}
	raw, err := client.RecordJob(ctx, &provenancev1.RecordJobRequest{
		JobId: prefix + "-raw", Type: "ingest", Payload: mustStruct(t, rawPayload), Status: succeeded, OutputHash: "h-raw",
	})
	if err != nil {
		t.Fatal(err)
	}
	featuresPayload := map[string]any{"columns": []any{"age", "income"}}
	featuresOutput := map[string]any{"rows": 10000.0, "note": "<&>"}
	features, err := client.RecordJob(ctx, &provenancev1.RecordJobRequest{
		JobId: prefix + "-features", Type: "featurize", ParentJobIds: []string{raw.JobId},
		Payload: mustStruct(t, featuresPayload), Status: succeeded, Output: mustValue(t, featuresOutput),
	})
	if err != nil {
		t.Fatal(err)
	}
	model, err := client.RecordJob(ctx, &provenancev1.RecordJobRequest{
		JobId: prefix + "-model", Type: "train", ParentJobIds: []string{features.JobId, raw.JobId},
		Payload: mustStruct(t, map[string]any{"lr": 0.01, "epochs": 5.0}), Status: succeeded, OutputHash: "h-model",
	})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("the server's hashes are the client's", func(t *testing.T) {
		rawDefinition, err := provenance.DefinitionHash("ingest", rawPayload, provenance.DefaultVolatileKeys)
		if err != nil || rawDefinition != raw.DefinitionHash {
			t.Errorf("definition hash: client %s (%v), server %s", rawDefinition, err, raw.DefinitionHash)
		}
		featuresOutputHash, err := provenance.OutputHash(featuresOutput)
		if err != nil || featuresOutputHash != features.GetResult().GetOutputHash() {
			t.Errorf("output hash: client %s (%v), server %s", featuresOutputHash, err, features.GetResult().GetOutputHash())
		}
		modelInput, err := provenance.InputHash(model.DefinitionHash, []provenance.Parent{
			{JobID: raw.JobId, OutputHash: "h-raw"}, {JobID: features.JobId, OutputHash: featuresOutputHash},
		})
		if err != nil || modelInput != model.InputHash {
			t.Errorf("input hash: client %s (%v), server %s", modelInput, err, model.InputHash)
		}
	})

	t.Run("lineage", func(t *testing.T) {
		lineage, err := client.GetLineage(ctx, &provenancev1.GetLineageRequest{
			JobId: model.JobId, Direction: provenancev1.LineageDirection_LINEAGE_DIRECTION_ANCESTORS,
		})
		if err != nil {
			t.Fatal(err)
		}
		depths := map[string]int32{}
		for _, node := range lineage.Nodes {
			depths[node.JobId] = node.Depth
		}
		if want := map[string]int32{raw.JobId: 1, features.JobId: 1}; !reflect.DeepEqual(depths, want) {
			t.Errorf("ancestors %v, want %v", depths, want)
		}
		var edges []string
		for _, edge := range lineage.Edges {
			edges = append(edges, edge.ParentJobId+" -> "+edge.ChildJobId)
		}
		sort.Strings(edges)
		want := []string{features.JobId + " -> " + model.JobId, raw.JobId + " -> " + features.JobId, raw.JobId + " -> " + model.JobId}
		if !reflect.DeepEqual(edges, want) {
			t.Errorf("edges %v, want %v", edges, want)
		}
		// The compact view, expanded, is the IDS view's answer.
		request := &provenancev1.GetLineageRequest{JobId: model.JobId, Direction: provenancev1.LineageDirection_LINEAGE_DIRECTION_ANCESTORS, View: provenancev1.LineageView_LINEAGE_VIEW_IDS}
		ids, err := client.GetLineage(ctx, request)
		if err != nil {
			t.Fatal(err)
		}
		graph, err := client.GetLineageGraph(ctx, request)
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(graph, ids) {
			t.Errorf("compact view %v, IDS view %v", graph, ids)
		}

		// StreamLineage, a node a message, sends the IDS view's nodes and edges.
		var streamed []*provenancev1.StreamLineageResponse
		streamRequest := &provenancev1.StreamLineageRequest{JobId: model.JobId, Direction: provenancev1.LineageDirection_LINEAGE_DIRECTION_ANCESTORS, MaxMessageNodes: 1}
		err = client.StreamLineage(ctx, streamRequest, func(message *provenancev1.StreamLineageResponse) error {
			streamed = append(streamed, message)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(streamed) != len(ids.Nodes) || !streamed[len(streamed)-1].Last || !proto.Equal(streamed[0].Root, ids.Root) {
			t.Fatalf("streamed %v, IDS view %v", streamed, ids)
		}
		edgeCount := 0
		for i, message := range streamed {
			if !proto.Equal(message.Nodes[0], ids.Nodes[i]) {
				t.Errorf("streamed node %d %v, IDS view %v", i, message.Nodes[0], ids.Nodes[i])
			}
			edgeCount += len(message.Edges)
		}
		if edgeCount != len(ids.Edges) {
			t.Errorf("streamed %d edges, IDS view %d", edgeCount, len(ids.Edges))
		}
	})

	t.Run("events of a submitted job, across a dropped connection", func(t *testing.T) {
		watchCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		jobID := prefix + "-nap"
		dialsBefore := network.count()
		var types, cursors []string
		watched := make(chan error, 1)
		go func() {
			// From the oldest event kept, so that no event can pass before the
			// subscription is open: the filter holds only the new job's id.
			watched <- client.WatchEvents(watchCtx, &provenancev1.WatchEventsRequest{
				JobIds: []string{jobID}, StartPosition: provenancev1.StartPosition_START_POSITION_OLDEST,
			}, func(event *provenancev1.ProvenanceEvent) error {
				types = append(types, event.Type)
				cursors = append(cursors, event.Cursor)
				switch event.Type {
				case "compute.job.started":
					// The job sleeps for a second now: its remaining events come after the drop.
					network.dropAll()
				case "job.provenance.completed":
					return provenance.StopWatching
				}
				return nil
			})
		}()
		submitted, err := client.SubmitJob(ctx, &provenancev1.SubmitJobRequest{
			JobId: jobID, Type: "sleep", ParentJobIds: []string{model.JobId}, Payload: mustStruct(t, map[string]any{"ms": 1000.0}),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := <-watched; err != nil {
			t.Fatalf("WatchEvents: %v (events so far: %v)", err, types)
		}
		want := []string{"compute.job.submitted", "job.provenance.created", "compute.job.started", "compute.job.completed", "job.provenance.completed"}
		if !reflect.DeepEqual(types, want) {
			t.Errorf("events %v, want %v", types, want)
		}
		if network.count() <= dialsBefore {
			t.Error("the connection was dropped, but the client never connected again")
		}
		seen := map[string]bool{}
		for _, cursor := range cursors {
			if seen[cursor] {
				t.Errorf("cursor %s delivered twice", cursor)
			}
			seen[cursor] = true
		}
		job, err := client.GetJob(ctx, submitted.JobId)
		if err != nil {
			t.Fatal(err)
		}
		if job.Status != succeeded {
			t.Errorf("the submitted job is %v, want %v", job.Status, succeeded)
		}
	})
}
