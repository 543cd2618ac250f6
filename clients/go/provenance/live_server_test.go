package provenance_test

import (
	"context"
	"os"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	"example.com/provenance/clients/go/provenance"
)

// dialLiveServer connects to the server at PROVENANCE_ADDRESS (plaintext, no
// authentication), which the caller has checked is set.
func dialLiveServer(t *testing.T, options ...provenance.Option) *provenance.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := provenance.Dial(ctx, os.Getenv("PROVENANCE_ADDRESS"), options...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

func mustStruct(t *testing.T, fields map[string]any) *structpb.Struct {
	t.Helper()
	value, err := structpb.NewStruct(fields)
	if err != nil {
		t.Fatal(err)
	}
	return value
}

func mustValue(t *testing.T, value any) *structpb.Value {
	t.Helper()
	converted, err := structpb.NewValue(value)
	if err != nil {
		t.Fatal(err)
	}
	return converted
}
