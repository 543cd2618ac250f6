package provenance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/status"

	provenancev1 "example.com/provenance/clients/go/gen/provenance/v1"
	"example.com/provenance/clients/go/provenance"
)

// restartSettings is what test/e2e/client-watch-restarts.test.ts passes in
// PROVENANCE_RESTARTS_SETTINGS.
type restartSettings struct {
	MaxAttempts        int   `json:"maxAttempts"`
	InitialDelayMs     int64 `json:"initialDelayMs"`
	MaxDelayMs         int64 `json:"maxDelayMs"`
	ReconnectBackoffMs int64 `json:"reconnectBackoffMs"`
}

// report tells the driving test of a resumption or an event, one JSON object
// a line on stdout (go test -v streams it).
func report(t *testing.T, line map[string]any) {
	encoded, err := json.Marshal(line)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(string(encoded))
}

// TestWatchAcrossServerRestarts is the Go watch of
// test/e2e/client-watch-restarts.test.ts, which stops and starts the server at
// PROVENANCE_ADDRESS under it, more times than the watch's max attempts, with
// no event flowing. It runs only when that test sets
// PROVENANCE_RESTARTS_JOB_ID, and follows that job until its provenance is
// complete.
func TestWatchAcrossServerRestarts(t *testing.T) {
	jobID := os.Getenv("PROVENANCE_RESTARTS_JOB_ID")
	if jobID == "" || os.Getenv("PROVENANCE_ADDRESS") == "" {
		t.Skip("run by test/e2e/client-watch-restarts.test.ts, which restarts the server")
	}
	var settings restartSettings
	if err := json.Unmarshal([]byte(os.Getenv("PROVENANCE_RESTARTS_SETTINGS")), &settings); err != nil {
		t.Fatalf("PROVENANCE_RESTARTS_SETTINGS: %v", err)
	}
	// grpc's own reconnection backoff (1 s, growing) would otherwise decide when the restarted server is seen.
	// MinConnectTimeout is grpc-go's default.
	reconnect := time.Duration(settings.ReconnectBackoffMs) * time.Millisecond
	client := dialLiveServer(t, provenance.WithDialOptions(grpc.WithConnectParams(grpc.ConnectParams{
		Backoff:           backoff.Config{BaseDelay: reconnect, Multiplier: 1, MaxDelay: reconnect},
		MinConnectTimeout: 20 * time.Second,
	})))
	policy := provenance.ResumePolicy{
		MaxAttempts:  settings.MaxAttempts,
		InitialDelay: time.Duration(settings.InitialDelayMs) * time.Millisecond,
		MaxDelay:     time.Duration(settings.MaxDelayMs) * time.Millisecond,
	}
	onResume := provenance.OnResume(func(resumption provenance.Resumption) {
		report(t, map[string]any{"resume": map[string]any{"attempt": resumption.Attempt, "code": int(status.Code(resumption.Err))}})
	})

	recorded := []string{"job.provenance.created", "compute.job.completed", "job.provenance.completed"}
	var types []string
	err := client.WatchEvents(context.Background(), &provenancev1.WatchEventsRequest{JobIds: []string{jobID}}, func(event *provenancev1.ProvenanceEvent) error {
		report(t, map[string]any{"event": map[string]any{"jobId": event.JobId, "type": event.Type, "cursor": event.Cursor}})
		types = append(types, event.Type)
		if event.Type == recorded[len(recorded)-1] {
			return provenance.StopWatching
		}
		return nil
	}, provenance.WithResumePolicy(policy), onResume)
	if err != nil {
		t.Fatalf("WatchEvents ended with %v after the events %v", err, types)
	}
	if !reflect.DeepEqual(types, recorded) {
		t.Errorf("events %v, want %v", types, recorded)
	}
}
