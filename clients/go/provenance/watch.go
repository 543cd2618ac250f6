package provenance

import (
	"context"
	"errors"
	"io"
	"math/rand"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	provenancev1 "example.com/provenance/clients/go/gen/provenance/v1"
)

// StopWatching, returned by a WatchEvents handler, ends the watch; WatchEvents
// then returns nil.
var StopWatching = errors.New("stop watching")

const (
	defaultInitialResumeDelay = 100 * time.Millisecond
	defaultMaxResumeDelay     = 5 * time.Second
	errorDomain               = "provenance.v1"
)

// resumableExhaustionReasons are the ErrorInfo reasons (domain
// provenance.v1) of a RESOURCE_EXHAUSTED that a new subscription gets past:
// the subscriber fell behind (resume after its last cursor), or the
// principal's rate limit (resume after RetryInfo). The others are not
// resumed: TOO_MANY_SUBSCRIPTIONS (another subscription only adds to the
// pressure and hides a leak in the caller), AUTHENTICATION_THROTTLED,
// BODY_TOO_LARGE, and gRPC's own, which has no ErrorInfo (a message over the
// size limit).
var resumableExhaustionReasons = map[string]bool{"SUBSCRIBER_TOO_SLOW": true, "RATE_LIMITED": true}

// ResumePolicy says how WatchEvents resumes after the server ends the stream
// with a status it can resume from (see WatchEvents).
type ResumePolicy struct {
	// MaxAttempts is the most resumptions in a row that may fail before the
	// server registers the subscription (it sends the response headers then);
	// when that many have, WatchEvents returns the last one's error. A stream
	// the server registered starts the count again however it ends, events or
	// not, so a quiet watch outlives any number of server restarts that each
	// take fewer attempts. 0 (the default): no limit, ctx bounds the watch.
	MaxAttempts int
	// InitialDelay is the delay before the first resumption (0: 100 ms). It
	// doubles with each failure in a row, up to MaxDelay (0: 5 s), and starts
	// again after a registered stream. Each wait is between half the delay
	// and all of it, at random, and at least the RetryInfo delay the server
	// asks for, up to MaxDelay.
	InitialDelay time.Duration
	MaxDelay     time.Duration
}

// Resumption is what an OnResume function is told before each resumption.
type Resumption struct {
	// Err is how the previous stream ended (UNAVAILABLE, or RESOURCE_EXHAUSTED
	// with reason SUBSCRIBER_TOO_SLOW or RATE_LIMITED).
	Err error
	// Attempt is 1 for the first resumption after the first stream or after
	// a stream the server registered, counting up while streams fail before
	// being registered.
	Attempt int
	// Delay is the wait before the next stream.
	Delay time.Duration
	// Request is what the next stream asks for.
	Request *provenancev1.WatchEventsRequest
}

// WatchOption configures one WatchEvents call.
type WatchOption func(*watchSettings)

type watchSettings struct {
	policy   ResumePolicy
	onResume func(Resumption)
}

// WithResumePolicy replaces the default ResumePolicy (no attempt limit,
// 100 ms doubling up to 5 s).
func WithResumePolicy(policy ResumePolicy) WatchOption {
	return func(s *watchSettings) { s.policy = policy }
}

// OnResume has notify called before each resumption, e.g. to log it.
func OnResume(notify func(Resumption)) WatchOption {
	return func(s *watchSettings) { s.onResume = notify }
}

// WatchEvents calls handle with each event that matches request, in order,
// until handle returns an error, ctx ends, or the stream ends. When the server
// ends the stream with UNAVAILABLE (it restarted, it lost its event stream, or
// the connection dropped), or RESOURCE_EXHAUSTED with ErrorInfo reason
// SUBSCRIBER_TOO_SLOW (handle was too slow to keep up) or RATE_LIMITED,
// WatchEvents subscribes again right after the last event it delivered, so
// that no event is lost or delivered twice, waiting between attempts as its
// ResumePolicy says.
//
// It returns nil when handle returns StopWatching or the server ends the
// stream normally, handle's error, ctx's error, or the status that ended the
// stream (OUT_OF_RANGE for a cursor the server no longer keeps;
// TOO_MANY_SUBSCRIPTIONS and every other RESOURCE_EXHAUSTED; a resumable
// status once ResumePolicy.MaxAttempts resumptions in a row have failed
// before the server registered them).
func (c *Client) WatchEvents(ctx context.Context, request *provenancev1.WatchEventsRequest, handle func(*provenancev1.ProvenanceEvent) error, options ...WatchOption) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // closes the stream however the watch ends
	settings := watchSettings{}
	for _, option := range options {
		option(&settings)
	}
	policy := settings.policy
	if policy.InitialDelay <= 0 {
		policy.InitialDelay = defaultInitialResumeDelay
	}
	if policy.MaxDelay <= 0 {
		policy.MaxDelay = defaultMaxResumeDelay
	}
	resume := &provenancev1.WatchEventsRequest{}
	if request != nil {
		resume = proto.Clone(request).(*provenancev1.WatchEventsRequest)
	}
	// Seeded per watch: before Go 1.20 the package-level source starts the same in every process.
	jitter := rand.New(rand.NewSource(time.Now().UnixNano()))
	backoff := policy.InitialDelay
	failuresInARow := 0
	for {
		registered, streamErr := c.follow(ctx, resume, func(event *provenancev1.ProvenanceEvent) error {
			if err := handle(event); err != nil {
				return handlerError{err}
			}
			resume.AfterCursor = event.Cursor
			return nil
		})
		var stopped handlerError
		switch {
		case errors.As(streamErr, &stopped):
			if errors.Is(stopped.err, StopWatching) {
				return nil
			}
			return stopped.err
		case streamErr == io.EOF:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		}
		if !resumable(streamErr) {
			return streamErr
		}
		// A stream the server registered was a successful resubscription, events or not: only streams failing before that count.
		if registered {
			failuresInARow = 0
			backoff = policy.InitialDelay
		}
		if policy.MaxAttempts > 0 && failuresInARow >= policy.MaxAttempts {
			return streamErr
		}
		failuresInARow++
		if resume.AfterCursor == "" {
			resumeFromSubscriptionStart(resume, streamErr)
		}
		// Half fixed, half random, so that the subscribers a restart ended do not all come back at once.
		wait := backoff/2 + time.Duration(jitter.Int63n(int64(backoff/2)+1))
		if retry := retryDelay(streamErr); retry > wait {
			wait = retry
		}
		wait = min(wait, policy.MaxDelay)
		backoff = min(2*backoff, policy.MaxDelay)
		if settings.onResume != nil {
			settings.onResume(Resumption{Err: streamErr, Attempt: failuresInARow, Delay: wait, Request: proto.Clone(resume).(*provenancev1.WatchEventsRequest)})
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// resumable says whether a new stream gets past the status that ended one:
// UNAVAILABLE, or RESOURCE_EXHAUSTED for one of resumableExhaustionReasons.
func resumable(streamErr error) bool {
	switch status.Code(streamErr) {
	case codes.Unavailable:
		return true
	case codes.ResourceExhausted:
		info := ErrorInfo(streamErr)
		return info.GetDomain() == errorDomain && resumableExhaustionReasons[info.GetReason()]
	}
	return false
}

// handlerError tells the handler's own error apart from the stream's.
type handlerError struct{ err error }

func (e handlerError) Error() string { return e.err.Error() }

// follow opens one stream and hands its events to deliver until either
// fails; io.EOF means the server ended the stream normally. registered says
// whether the server registered the subscription, which it tells by sending
// the response headers: grpc-go shows a response without them (trailers
// only) as empty header metadata, so headers that carry metadata (this
// service's carry x-request-id) or an event prove it.
func (c *Client) follow(ctx context.Context, request *provenancev1.WatchEventsRequest, deliver func(*provenancev1.ProvenanceEvent) error) (registered bool, err error) {
	stream, err := c.stub.WatchEvents(ctx, request)
	if err != nil {
		return false, err
	}
	header, err := stream.Header()
	if err != nil {
		return false, err
	}
	registered = len(header) > 0
	for {
		response, err := stream.Recv()
		if err != nil {
			return registered, err
		}
		registered = true
		if err := deliver(response.Event); err != nil {
			return registered, err
		}
	}
}

// resumeFromSubscriptionStart makes a watch that has delivered nothing yet
// start where its last subscription started, which the server names in the
// ErrorInfo metadata as startCursor ("" for the oldest event kept), so that
// events committed while it reconnects are not missed. Without it (the
// connection dropped before the server answered) the request is sent again
// as it was.
func resumeFromSubscriptionStart(resume *provenancev1.WatchEventsRequest, streamErr error) {
	info := ErrorInfo(streamErr)
	if info == nil {
		return
	}
	startCursor, known := info.Metadata["startCursor"]
	switch {
	case !known:
	case startCursor == "":
		resume.StartPosition = provenancev1.StartPosition_START_POSITION_OLDEST
	default:
		resume.AfterCursor = startCursor
	}
}

// ErrorInfo returns the google.rpc.ErrorInfo the server attached to err
// (its Reason is a stable name such as "PARENT_NOT_FOUND"), or nil.
func ErrorInfo(err error) *errdetails.ErrorInfo {
	for _, detail := range status.Convert(err).Details() {
		if info, ok := detail.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

func retryDelay(err error) time.Duration {
	for _, detail := range status.Convert(err).Details() {
		if info, ok := detail.(*errdetails.RetryInfo); ok && info.RetryDelay != nil {
			return info.RetryDelay.AsDuration()
		}
	}
	return 0
}

func min(a, b time.Duration) time.Duration {
	if a < b {
		return a
	}
	return b
}
