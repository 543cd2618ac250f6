package provenance_test

import (
	"context"
	"os"
	"reflect"
	"sort"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	provenancev1 "example.com/provenance/clients/go/gen/provenance/v1"
	"example.com/provenance/clients/go/provenance"
)

// TestEveryCall reaches each RPC through its Client method on a live server,
// checking an answer that shows the request got there whole.
func TestEveryCall(t *testing.T) {
	if os.Getenv("PROVENANCE_ADDRESS") == "" {
		t.Skip("PROVENANCE_ADDRESS is not set: the test needs a live server (host:port, plaintext, no authentication)")
	}
	client := dialLiveServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prefix := randomPrefix(t)
	a, b := prefix+"-a", prefix+"-b"
	succeeded := provenancev1.JobStatus_JOB_STATUS_SUCCEEDED
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	// The run's prefix in the payload gives job a a definition hash of its own, for ListJobs' filter.
	recorded, err := client.RecordJob(ctx, &provenancev1.RecordJobRequest{JobId: a, Type: "echo", Payload: mustStruct(t, map[string]any{"run": prefix}), Status: succeeded, OutputHash: "h-a"})
	check(err)
	batch, err := client.BatchRecordJobs(ctx, &provenancev1.BatchRecordJobsRequest{Requests: []*provenancev1.RecordJobRequest{
		{JobId: b, Type: "echo", ParentJobIds: []string{a}, Payload: mustStruct(t, map[string]any{"n": 2.0}), Status: succeeded, OutputHash: "h-b"},
		{JobId: "not a valid id", Type: "echo", Status: succeeded, OutputHash: "h"},
	}})
	check(err)
	if codesOf := []codes.Code{codes.Code(batch.Results[0].GetStatus().GetCode()), codes.Code(batch.Results[1].GetStatus().GetCode())}; !reflect.DeepEqual(codesOf, []codes.Code{codes.OK, codes.InvalidArgument}) {
		t.Errorf("BatchRecordJobs statuses %v", codesOf)
	}

	job, err := client.GetJob(ctx, b)
	check(err)
	if !reflect.DeepEqual(job.ParentJobIds, []string{a}) {
		t.Errorf("GetJob parents %v", job.ParentJobIds)
	}
	// As of a's creation, b did not exist yet, unless both were stamped with the same millisecond.
	aCreated := recorded.CreateTime.AsTime()
	if asOf, err := client.GetJobAsOf(ctx, a, aCreated); err != nil || asOf.JobId != a {
		t.Errorf("GetJobAsOf %v %v", asOf, err)
	}
	pastDependents, err := client.ListDependents(ctx, &provenancev1.ListDependentsRequest{JobId: a, AsOf: timestamppb.New(aCreated)})
	check(err)
	if job.CreateTime.AsTime().After(aCreated) {
		if _, err := client.GetJobAsOf(ctx, b, aCreated); status.Code(err) != codes.NotFound {
			t.Errorf("GetJobAsOf of a job created later: %v", err)
		}
		if len(pastDependents.Dependents) != 0 {
			t.Errorf("ListDependents as of a's creation %v", pastDependents.Dependents)
		}
	}
	listed, err := client.ListJobs(ctx, &provenancev1.ListJobsRequest{PageSize: 10, Filter: `definition_hash = "` + recorded.DefinitionHash + `"`})
	check(err)
	if len(listed.Jobs) != 1 || listed.Jobs[0].JobId != a {
		t.Errorf("ListJobs %v", listed.Jobs)
	}
	dependents, err := client.ListDependents(ctx, &provenancev1.ListDependentsRequest{JobId: a})
	check(err)
	if len(dependents.Dependents) != 1 || dependents.Dependents[0].GetJob().GetJobId() != b {
		t.Errorf("ListDependents %v", dependents.Dependents)
	}
	graph, err := client.ExportProvenanceGraph(ctx, &provenancev1.ExportProvenanceGraphRequest{
		JobId: b, Direction: provenancev1.LineageDirection_LINEAGE_DIRECTION_ANCESTORS, Format: provenancev1.GraphFormat_GRAPH_FORMAT_NATIVE,
	})
	check(err)
	if len(graph.Edges) != 1 || graph.Edges[0].ParentJobId != a || graph.Edges[0].ChildJobId != b {
		t.Errorf("ExportProvenanceGraph edges %v", graph.Edges)
	}
	report, err := client.CheckReproducibility(ctx, b)
	check(err)
	if !report.Reproducible {
		t.Errorf("CheckReproducibility %v", report)
	}
	comparison, err := client.CompareJobs(ctx, a, b)
	check(err)
	if d := comparison.GetDifference(); d.GetLeftJobId() != a || d.GetRightJobId() != b || d.GetLeftOutputHash() != "h-a" || d.GetRightOutputHash() != "h-b" {
		t.Errorf("CompareJobs %v", comparison)
	}

	echoed, err := client.SubmitJob(ctx, &provenancev1.SubmitJobRequest{Type: "echo", Payload: mustStruct(t, map[string]any{"text": "hi"}), CacheSalt: prefix})
	check(err)
	if echoed.CacheSalt != prefix {
		t.Errorf("SubmitJob cache salt %q", echoed.CacheSalt)
	}
	check(client.WatchEvents(ctx, &provenancev1.WatchEventsRequest{JobIds: []string{echoed.JobId}, StartPosition: provenancev1.StartPosition_START_POSITION_OLDEST},
		func(event *provenancev1.ProvenanceEvent) error {
			if event.Type == "job.provenance.completed" {
				return provenance.StopWatching
			}
			return nil
		}))
	rerun, err := client.RerunJob(ctx, &provenancev1.RerunJobRequest{
		JobId: echoed.JobId, PayloadChange: &provenancev1.RerunJobRequest_PayloadOverrides{PayloadOverrides: mustStruct(t, map[string]any{"text": "again"})},
	})
	check(err)
	if rerun.RerunOfJobId != echoed.JobId {
		t.Errorf("RerunJob rerun of %q, want %q", rerun.RerunOfJobId, echoed.JobId)
	}
	sleeper, err := client.SubmitJob(ctx, &provenancev1.SubmitJobRequest{Type: "sleep", Payload: mustStruct(t, map[string]any{"ms": 60000.0})})
	check(err)
	cancelled, err := client.CancelJob(ctx, &provenancev1.CancelJobRequest{JobId: sleeper.JobId, Reason: "test"})
	check(err)
	if cancelled.Status != provenancev1.JobStatus_JOB_STATUS_CANCELLED {
		t.Errorf("CancelJob status %v", cancelled.Status)
	}
	shared, err := client.SetReaderSubjects(ctx, &provenancev1.SetReaderSubjectsRequest{JobId: a, ReaderSubjects: []string{"globex/bob"}, Etag: recorded.Etag})
	check(err)
	if !reflect.DeepEqual(shared.ReaderSubjects, []string{"globex/bob"}) {
		t.Errorf("SetReaderSubjects shared with %v", shared.ReaderSubjects)
	}
	if _, err := client.SetReaderSubjects(ctx, &provenancev1.SetReaderSubjectsRequest{JobId: a, Etag: recorded.Etag}); status.Code(err) != codes.Aborted || provenance.ErrorInfo(err).GetReason() != "ETAG_MISMATCH" {
		t.Errorf("SetReaderSubjects with a stale etag: %v", err)
	}
	revoked, err := client.SetReaderSubjects(ctx, &provenancev1.SetReaderSubjectsRequest{JobId: a, ReaderSubjects: []string{}, Etag: shared.Etag})
	check(err)
	if len(revoked.ReaderSubjects) != 0 {
		t.Errorf("SetReaderSubjects with an empty list left %v", revoked.ReaderSubjects)
	}
	invalidated, err := client.InvalidateCache(ctx, &provenancev1.InvalidateCacheRequest{JobId: a, DryRun: true})
	check(err)
	affected := append([]string(nil), invalidated.AffectedJobIds...)
	sort.Strings(affected)
	if !reflect.DeepEqual(affected, []string{a, b}) || !invalidated.DryRun {
		t.Errorf("InvalidateCache affected %v (dry run %v)", affected, invalidated.DryRun)
	}
	audit, err := client.ListAuditEvents(ctx, &provenancev1.ListAuditEventsRequest{Filter: `job_id = "` + a + `"`})
	check(err)
	var methods []string
	for _, entry := range audit.AuditEvents {
		methods = append(methods, entry.Method)
	}
	if !contains(methods, "/provenance.v1.ProvenanceService/RecordJob") {
		t.Errorf("ListAuditEvents methods %v", methods)
	}
}

func contains(values []string, wanted string) bool {
	for _, value := range values {
		if value == wanted {
			return true
		}
	}
	return false
}
