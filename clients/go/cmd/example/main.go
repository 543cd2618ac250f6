// Command example is the README's example: it submits a job, prints its
// events until its provenance is complete, and checks its definition hash.
// It talks to PROVENANCE_ADDRESS, or to npm start's 127.0.0.1:50051.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	provenancev1 "example.com/provenance/clients/go/gen/provenance/v1"
	"example.com/provenance/clients/go/provenance"
)

func main() {
	address := os.Getenv("PROVENANCE_ADDRESS")
	if address == "" {
		address = "127.0.0.1:50051"
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	client, err := provenance.Dial(ctx, address) // options: provenance.WithBearerToken, WithAPIKey, WithTLS
	check(err)
	defer client.Close()
	payload := map[string]any{"text": "hello provenance"}
	fields, err := structpb.NewStruct(payload)
	check(err)
	job, err := client.SubmitJob(ctx, &provenancev1.SubmitJobRequest{Type: "echo", Payload: fields})
	check(err)
	watch := &provenancev1.WatchEventsRequest{JobIds: []string{job.JobId}, StartPosition: provenancev1.StartPosition_START_POSITION_OLDEST}
	check(client.WatchEvents(ctx, watch, func(event *provenancev1.ProvenanceEvent) error {
		fmt.Println(event.Type, event.Status)
		if event.Type == "job.provenance.completed" {
			return provenance.StopWatching
		}
		return nil
	}))
	hash, err := provenance.DefinitionHash("echo", payload, provenance.DefaultVolatileKeys)
	check(err)
	fmt.Println("definition hash", hash, "matches the server's:", hash == job.DefinitionHash)
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
