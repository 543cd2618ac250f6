package provenance

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestUnaryCallsGetTheDefaultDeadline(t *testing.T) {
	address, _ := serveScript(t)
	client := dialScript(t, address, WithTimeout(200*time.Millisecond))
	ended := make(chan error, 1)
	go func() {
		_, err := client.GetJob(context.Background(), "job-1")
		ended <- err
	}()
	select {
	case err := <-ended:
		if status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("GetJob ended with %v, want DEADLINE_EXCEEDED", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a call whose context has no deadline was not given the 200ms default")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	started := time.Now()
	if _, err := client.GetJob(ctx, "job-1"); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("GetJob ended with %v, want DEADLINE_EXCEEDED", err)
	}
	if elapsed := time.Since(started); elapsed < 600*time.Millisecond {
		t.Errorf("the call ended after %v, before its own deadline of 600ms", elapsed)
	}
}
