package provenance

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	provenancev1 "example.com/provenance/clients/go/gen/provenance/v1"
)

// LineageStreamAttempts is how many times in a row StreamLineage opens the
// stream again without receiving a message before it returns the failure.
const LineageStreamAttempts = 3

// handleError carries an error of StreamLineage's handle past the stream's
// own failures, which alone are resumed.
type handleError struct{ err error }

func (e handleError) Error() string { return e.err.Error() }

// StreamLineage calls handle with each message of the StreamLineage stream
// (the lineage nearest first, at most request.MaxMessageNodes nodes a
// message, each with the edges it completes), in order. When the stream
// fails UNAVAILABLE, it opens it again with the resume token of the last
// message handled, so that handle sees every node and edge once; it gives
// up after LineageStreamAttempts failures in a row without a message.
//
// It returns nil once the last message is handled or when handle returns
// StopWatching, handle's error, ctx's error, or the status that ended the
// stream. request.ResumeToken starts after a message an earlier call
// handled; request itself is not changed.
func (c *Client) StreamLineage(ctx context.Context, request *provenancev1.StreamLineageRequest, handle func(*provenancev1.StreamLineageResponse) error) error {
	next := proto.Clone(request).(*provenancev1.StreamLineageRequest)
	failedInARow := 0
	for {
		err := c.streamLineageOnce(ctx, next, func(message *provenancev1.StreamLineageResponse) error {
			failedInARow = 0
			next.ResumeToken = message.ResumeToken
			return handle(message)
		})
		var handled handleError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &handled):
			if errors.Is(handled.err, StopWatching) {
				return nil
			}
			return handled.err
		case ctx.Err() != nil:
			return ctx.Err()
		case status.Code(err) != codes.Unavailable:
			return err
		}
		failedInARow++
		if failedInARow >= LineageStreamAttempts {
			return err
		}
	}
}

// streamLineageOnce reads one StreamLineage call to its end, its last
// message, or handle's first error.
func (c *Client) streamLineageOnce(ctx context.Context, request *provenancev1.StreamLineageRequest, handle func(*provenancev1.StreamLineageResponse) error) error {
	callCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.stub.StreamLineage(callCtx, request)
	if err != nil {
		return err
	}
	for {
		message, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := handle(message); err != nil {
			return handleError{err}
		}
		if message.Last {
			return nil
		}
	}
}
