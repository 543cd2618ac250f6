package provenance

import (
	"context"
	"errors"
	"io"
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
	firstResumeDelay = 100 * time.Millisecond
	maxResumeDelay   = 5 * time.Second
)

// WatchEvents calls handle with each event that matches request, in order,
// until handle returns an error, ctx ends, or the stream ends. When the server
// ends the stream with UNAVAILABLE (it lost its event stream, or the
// connection dropped) or RESOURCE_EXHAUSTED (handle was too slow to keep up),
// WatchEvents subscribes again right after the last event it delivered, so
// that no event is lost or delivered twice; it waits between attempts (the
// server's RetryInfo delay, or a backoff up to 5 s) and keeps trying until
// ctx ends.
//
// It returns nil when handle returns StopWatching or the server ends the
// stream normally, handle's error, ctx's error, or the status that ended the
// stream (OUT_OF_RANGE for a cursor the server no longer keeps).
func (c *Client) WatchEvents(ctx context.Context, request *provenancev1.WatchEventsRequest, handle func(*provenancev1.ProvenanceEvent) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // closes the stream however the watch ends
	resume := &provenancev1.WatchEventsRequest{}
	if request != nil {
		resume = proto.Clone(request).(*provenancev1.WatchEventsRequest)
	}
	delay := firstResumeDelay
	for {
		streamErr := c.follow(ctx, resume, func(event *provenancev1.ProvenanceEvent) error {
			if err := handle(event); err != nil {
				return handlerError{err}
			}
			resume.AfterCursor = event.Cursor
			delay = firstResumeDelay
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
		if code := status.Code(streamErr); code != codes.Unavailable && code != codes.ResourceExhausted {
			return streamErr
		}
		if resume.AfterCursor == "" {
			resumeFromSubscriptionStart(resume, streamErr)
		}
		wait := delay
		if retry := retryDelay(streamErr); retry > wait {
			wait = retry
		}
		delay = min(2*delay, maxResumeDelay)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// handlerError tells the handler's own error apart from the stream's.
type handlerError struct{ err error }

func (e handlerError) Error() string { return e.err.Error() }

// follow opens one stream and hands its events to deliver until either
// fails; io.EOF means the server ended the stream normally.
func (c *Client) follow(ctx context.Context, request *provenancev1.WatchEventsRequest, deliver func(*provenancev1.ProvenanceEvent) error) error {
	stream, err := c.stub.WatchEvents(ctx, request)
	if err != nil {
		return err
	}
	for {
		response, err := stream.Recv()
		if err != nil {
			return err
		}
		if err := deliver(response.Event); err != nil {
			return err
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
