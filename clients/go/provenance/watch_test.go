package provenance

import (
	"context"
	"errors"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	provenancev1 "example.com/provenance/clients/go/gen/provenance/v1"
)

// These tests end streams in ways a live server does only when Redis fails
// or a subscriber falls behind, from a server that follows a script: each
// WatchEvents call sends the next step's events, then ends with its status;
// GetJob answers only when the call's deadline passes. The live resume after
// a dropped connection is in TestSmoke.

type watchStep struct {
	cursors []string
	end     error
	// registered sends the response headers even with no event to send, as
	// the service does once it has registered a subscription.
	registered bool
}

type scriptedServer struct {
	provenancev1.UnimplementedProvenanceServiceServer
	mu       sync.Mutex
	steps    []watchStep
	requests []*provenancev1.WatchEventsRequest
}

func (s *scriptedServer) WatchEvents(request *provenancev1.WatchEventsRequest, stream provenancev1.ProvenanceService_WatchEventsServer) error {
	s.mu.Lock()
	s.requests = append(s.requests, proto.Clone(request).(*provenancev1.WatchEventsRequest))
	if len(s.steps) == 0 {
		s.mu.Unlock()
		return status.Error(codes.FailedPrecondition, "the script has no more steps")
	}
	step := s.steps[0]
	s.steps = s.steps[1:]
	s.mu.Unlock()
	if step.registered {
		if err := stream.SendHeader(metadata.Pairs("x-request-id", "scripted")); err != nil {
			return err
		}
	}
	for _, cursor := range step.cursors {
		if err := stream.Send(&provenancev1.WatchEventsResponse{Event: &provenancev1.ProvenanceEvent{Cursor: cursor}}); err != nil {
			return err
		}
	}
	return step.end
}

func (s *scriptedServer) GetJob(ctx context.Context, _ *provenancev1.GetJobRequest) (*provenancev1.Job, error) {
	<-ctx.Done()
	return nil, status.FromContextError(ctx.Err()).Err()
}

func (s *scriptedServer) requestsSeen() []*provenancev1.WatchEventsRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// startScriptedServer serves the script on a free loopback port and dials it.
func startScriptedServer(t *testing.T, steps ...watchStep) (*Client, *scriptedServer) {
	t.Helper()
	address, script := serveScript(t, steps...)
	return dialScript(t, address), script
}

func serveScript(t *testing.T, steps ...watchStep) (string, *scriptedServer) {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := grpc.NewServer()
	script := &scriptedServer{steps: steps}
	provenancev1.RegisterProvenanceServiceServer(server, script)
	go server.Serve(listener)
	t.Cleanup(server.Stop)
	return listener.Addr().String(), script
}

func dialScript(t *testing.T, address string, options ...Option) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, err := Dial(ctx, address, options...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// resumableError ends a subscription as the service does when it lost its
// event stream (UNAVAILABLE) or the subscriber fell behind
// (RESOURCE_EXHAUSTED, SUBSCRIBER_TOO_SLOW), naming its cursors.
func resumableError(code codes.Code, lastCursor, startCursor string) error {
	reason := "EVENTS_UNAVAILABLE"
	if code == codes.ResourceExhausted {
		reason = "SUBSCRIBER_TOO_SLOW"
	}
	return errorWithInfo(code, &errdetails.ErrorInfo{
		Reason:   reason,
		Domain:   "provenance.v1",
		Metadata: map[string]string{"lastCursor": lastCursor, "startCursor": startCursor},
	}, 0)
}

// errorWithInfo is a status carrying info, and a RetryInfo when retry is positive.
func errorWithInfo(code codes.Code, info *errdetails.ErrorInfo, retry time.Duration) error {
	withDetails, err := status.New(code, "the subscription ended").WithDetails(info)
	if err == nil && retry > 0 {
		withDetails, err = withDetails.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(retry)})
	}
	if err != nil {
		panic(err)
	}
	return withDetails.Err()
}

// serviceError is a status of the service: an ErrorInfo of reason in its domain, and a RetryInfo when retry is positive.
func serviceError(code codes.Code, reason string, retry time.Duration) error {
	return errorWithInfo(code, &errdetails.ErrorInfo{Reason: reason, Domain: "provenance.v1"}, retry)
}

// collectCursors watches until the stream ends and returns what it delivered.
func collectCursors(t *testing.T, client *Client, request *provenancev1.WatchEventsRequest) ([]string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var cursors []string
	err := client.WatchEvents(ctx, request, func(event *provenancev1.ProvenanceEvent) error {
		cursors = append(cursors, event.Cursor)
		return nil
	})
	return cursors, err
}

func afterCursors(requests []*provenancev1.WatchEventsRequest) []string {
	cursors := make([]string, len(requests))
	for i, request := range requests {
		cursors[i] = request.AfterCursor
	}
	return cursors
}

func TestWatchResumesAfterTheLastDeliveredEvent(t *testing.T) {
	client, script := startScriptedServer(t,
		watchStep{cursors: []string{"1-0", "2-0"}, end: resumableError(codes.Unavailable, "2-0", "0-0")},
		watchStep{cursors: []string{"3-0"}, end: resumableError(codes.ResourceExhausted, "3-0", "2-0")},
		watchStep{end: status.Error(codes.Unavailable, "connection dropped")},
		watchStep{cursors: []string{"4-0"}},
	)
	cursors, err := collectCursors(t, client, &provenancev1.WatchEventsRequest{JobIds: []string{"job-1"}})
	if err != nil {
		t.Fatalf("WatchEvents ended with %v, want nil after the server ended the stream normally", err)
	}
	if want := []string{"1-0", "2-0", "3-0", "4-0"}; !reflect.DeepEqual(cursors, want) {
		t.Errorf("delivered %v, want %v", cursors, want)
	}
	requests := script.requestsSeen()
	if want := []string{"", "2-0", "3-0", "3-0"}; !reflect.DeepEqual(afterCursors(requests), want) {
		t.Errorf("subscribed after %v, want %v", afterCursors(requests), want)
	}
	for _, request := range requests {
		if !reflect.DeepEqual(request.JobIds, []string{"job-1"}) {
			t.Errorf("a resumed request lost its filter: %v", request)
		}
	}
}

func TestWatchThatDeliveredNothingResumesWhereItsSubscriptionStarted(t *testing.T) {
	client, script := startScriptedServer(t,
		watchStep{end: resumableError(codes.Unavailable, "", "7-0")},
		watchStep{cursors: []string{"8-0"}},
	)
	if _, err := collectCursors(t, client, &provenancev1.WatchEventsRequest{}); err != nil {
		t.Fatal(err)
	}
	if got := afterCursors(script.requestsSeen()); !reflect.DeepEqual(got, []string{"", "7-0"}) {
		t.Errorf("subscribed after %v, want the start cursor 7-0 the second time", got)
	}

	client, script = startScriptedServer(t,
		watchStep{end: resumableError(codes.ResourceExhausted, "", "")},
		watchStep{cursors: []string{"1-0"}},
	)
	if _, err := collectCursors(t, client, &provenancev1.WatchEventsRequest{}); err != nil {
		t.Fatal(err)
	}
	if resumed := script.requestsSeen()[1]; resumed.StartPosition != provenancev1.StartPosition_START_POSITION_OLDEST || resumed.AfterCursor != "" {
		t.Errorf("a subscription that started at the oldest event resumed with %v", resumed)
	}
}

// watchWithPolicy watches until the stream ends under policy, and returns
// the resumptions it was told of and how the watch ended.
func watchWithPolicy(t *testing.T, client *Client, policy ResumePolicy) ([]Resumption, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var resumptions []Resumption
	err := client.WatchEvents(ctx, &provenancev1.WatchEventsRequest{JobIds: []string{"job-1"}}, func(*provenancev1.ProvenanceEvent) error { return nil },
		WithResumePolicy(policy), OnResume(func(resumption Resumption) { resumptions = append(resumptions, resumption) }))
	return resumptions, err
}

func attempts(resumptions []Resumption) []int {
	numbers := make([]int, len(resumptions))
	for i, resumption := range resumptions {
		numbers[i] = resumption.Attempt
	}
	return numbers
}

var quickPolicy = ResumePolicy{MaxAttempts: 2, InitialDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond}

func TestWatchCountsFailedAttemptsAgainAfterAStreamTheServerRegistered(t *testing.T) {
	// A server restart as the watch sees it: the server ends a subscription it
	// had registered (no event came), then refuses one attempt while it is
	// down. Four of them, with a policy that gives up after two attempts in a
	// row that failed before being registered.
	var steps []watchStep
	for restart := 0; restart < 4; restart++ {
		steps = append(steps,
			watchStep{registered: true, end: resumableError(codes.Unavailable, "", "7-0")},
			watchStep{end: status.Error(codes.Unavailable, "connection refused")})
	}
	client, script := startScriptedServer(t, append(steps, watchStep{cursors: []string{"8-0"}})...)
	resumptions, err := watchWithPolicy(t, client, quickPolicy)
	if err != nil {
		t.Fatalf("WatchEvents ended with %v after %d resumptions, want nil", err, len(resumptions))
	}
	if want := []int{1, 2, 1, 2, 1, 2, 1, 2}; !reflect.DeepEqual(attempts(resumptions), want) {
		t.Errorf("resumption attempts %v, want %v", attempts(resumptions), want)
	}
	want := []string{"", "7-0", "7-0", "7-0", "7-0", "7-0", "7-0", "7-0", "7-0"}
	if got := afterCursors(script.requestsSeen()); !reflect.DeepEqual(got, want) {
		t.Errorf("subscribed after %v, want %v", got, want)
	}
}

func TestWatchReturnsTheErrorOnceMaxAttemptsInARowFailedBeforeBeingRegistered(t *testing.T) {
	refused := watchStep{end: status.Error(codes.Unavailable, "connection refused")}
	client, script := startScriptedServer(t, watchStep{cursors: []string{"1-0"}, end: resumableError(codes.Unavailable, "1-0", "0-0")}, refused, refused, refused)
	resumptions, err := watchWithPolicy(t, client, quickPolicy)
	if status.Code(err) != codes.Unavailable {
		t.Errorf("WatchEvents ended with %v, want UNAVAILABLE", err)
	}
	if len(script.requestsSeen()) != 3 || !reflect.DeepEqual(attempts(resumptions), []int{1, 2}) {
		t.Errorf("%d subscriptions, resumption attempts %v; want 3 and [1 2]", len(script.requestsSeen()), attempts(resumptions))
	}
	for _, resumption := range resumptions {
		if resumption.Request.AfterCursor != "1-0" {
			t.Errorf("resumed with %v, want after 1-0", resumption.Request)
		}
	}
}

func retryAfter(code codes.Code, delay time.Duration) error {
	withDetails, err := status.New(code, "try again later").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(delay)})
	if err != nil {
		panic(err)
	}
	return withDetails.Err()
}

func TestWatchWaitsHalfToAllOfADoublingDelayAndAtLeastTheServersRetryDelayUpToTheMaximum(t *testing.T) {
	refused := watchStep{end: status.Error(codes.Unavailable, "connection refused")}
	client, _ := startScriptedServer(t, refused, refused, refused,
		watchStep{end: serviceError(codes.ResourceExhausted, "RATE_LIMITED", 50*time.Millisecond)},
		watchStep{end: retryAfter(codes.Unavailable, time.Minute)},
		watchStep{})
	resumptions, err := watchWithPolicy(t, client, ResumePolicy{InitialDelay: 10 * time.Millisecond, MaxDelay: 100 * time.Millisecond})
	if err != nil || len(resumptions) != 5 {
		t.Fatalf("WatchEvents ended with %v after %d resumptions, want nil after 5", err, len(resumptions))
	}
	// Backoffs 10, 20, 40, 80 and 100 ms (the maximum), each waited for half to all of it.
	ms := time.Millisecond
	bounds := [][2]time.Duration{{5 * ms, 10 * ms}, {10 * ms, 20 * ms}, {20 * ms, 40 * ms}, {50 * ms, 80 * ms}, {100 * ms, 100 * ms}}
	for i, resumption := range resumptions {
		if resumption.Delay < bounds[i][0] || resumption.Delay > bounds[i][1] {
			t.Errorf("resumption %d waited %v, want within %v (a RetryInfo of 50 ms for the 4th, of a minute for the 5th)", i+1, resumption.Delay, bounds[i])
		}
	}
}

func TestWatchWaitsTheServersRetryDelay(t *testing.T) {
	tooFast := serviceError(codes.ResourceExhausted, "RATE_LIMITED", 700*time.Millisecond)
	client, _ := startScriptedServer(t, watchStep{end: tooFast}, watchStep{cursors: []string{"1-0"}})
	started := time.Now()
	if _, err := collectCursors(t, client, &provenancev1.WatchEventsRequest{}); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(started); elapsed < 700*time.Millisecond {
		t.Errorf("resubscribed after %v, before the 700ms the server asked for", elapsed)
	}
}

func TestWatchEndsOnAStatusItCannotResumeFrom(t *testing.T) {
	outOfRange := status.Error(codes.OutOfRange, "the cursor is older than the events kept")
	client, script := startScriptedServer(t, watchStep{cursors: []string{"5-0"}, end: outOfRange}, watchStep{cursors: []string{"6-0"}})
	cursors, err := collectCursors(t, client, &provenancev1.WatchEventsRequest{AfterCursor: "4-0"})
	if status.Code(err) != codes.OutOfRange {
		t.Errorf("WatchEvents ended with %v, want OUT_OF_RANGE", err)
	}
	if !reflect.DeepEqual(cursors, []string{"5-0"}) || len(script.requestsSeen()) != 1 {
		t.Errorf("delivered %v in %d subscriptions, want 5-0 in one", cursors, len(script.requestsSeen()))
	}
}

func TestWatchEndsOnAResourceExhaustedAnotherSubscriptionCannotGetPastAndOnADeadline(t *testing.T) {
	endings := map[string]error{
		// The principal holds the most subscriptions: another one adds pressure and hides the caller's leak.
		"TOO_MANY_SUBSCRIPTIONS":   serviceError(codes.ResourceExhausted, "TOO_MANY_SUBSCRIPTIONS", 0),
		"AUTHENTICATION_THROTTLED": serviceError(codes.ResourceExhausted, "AUTHENTICATION_THROTTLED", 5*time.Millisecond),
		"BODY_TOO_LARGE":           serviceError(codes.ResourceExhausted, "BODY_TOO_LARGE", 0),
		// A reason is only known within its domain: another service's SUBSCRIBER_TOO_SLOW is not ours.
		"SUBSCRIBER_TOO_SLOW of another domain": errorWithInfo(codes.ResourceExhausted, &errdetails.ErrorInfo{Reason: "SUBSCRIBER_TOO_SLOW", Domain: "proxy.example.com"}, 0),
		// No ErrorInfo, as gRPC's own refusals (a message over the size limit) come.
		"RESOURCE_EXHAUSTED without ErrorInfo": status.Error(codes.ResourceExhausted, "received message larger than max"),
		"DEADLINE_EXCEEDED from the server":    serviceError(codes.DeadlineExceeded, "DEADLINE_EXCEEDED", 0),
	}
	for name, ending := range endings {
		t.Run(name, func(t *testing.T) {
			// The second step would succeed: only a watch that resumed would deliver its event.
			client, script := startScriptedServer(t, watchStep{cursors: []string{"1-0"}, end: ending}, watchStep{cursors: []string{"2-0"}})
			var resumptions []Resumption
			var cursors []string
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := client.WatchEvents(ctx, nil, func(event *provenancev1.ProvenanceEvent) error {
				cursors = append(cursors, event.Cursor)
				return nil
			}, WithResumePolicy(quickPolicy), OnResume(func(resumption Resumption) { resumptions = append(resumptions, resumption) }))
			if status.Code(err) != status.Code(ending) || ErrorInfo(err).GetReason() != ErrorInfo(ending).GetReason() {
				t.Errorf("WatchEvents ended with %v, want %v", err, ending)
			}
			if !reflect.DeepEqual(cursors, []string{"1-0"}) || len(resumptions) != 0 || len(script.requestsSeen()) != 1 {
				t.Errorf("delivered %v after %d resumptions in %d subscriptions, want 1-0 in one", cursors, len(resumptions), len(script.requestsSeen()))
			}
		})
	}
}

func TestWatchEndsWhenTheHandlerSaysSo(t *testing.T) {
	client, _ := startScriptedServer(t, watchStep{cursors: []string{"1-0", "2-0", "3-0"}})
	ctx := context.Background()
	var delivered int
	err := client.WatchEvents(ctx, nil, func(*provenancev1.ProvenanceEvent) error {
		delivered++
		if delivered == 2 {
			return StopWatching
		}
		return nil
	})
	if err != nil || delivered != 2 {
		t.Errorf("StopWatching: WatchEvents returned %v after %d events, want nil after 2", err, delivered)
	}

	client, _ = startScriptedServer(t, watchStep{cursors: []string{"1-0", "2-0"}})
	failure := errors.New("cannot store the event")
	err = client.WatchEvents(ctx, nil, func(*provenancev1.ProvenanceEvent) error { return failure })
	if !errors.Is(err, failure) {
		t.Errorf("WatchEvents returned %v, want the handler's error", err)
	}
}
