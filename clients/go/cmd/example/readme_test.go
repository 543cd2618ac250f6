package main

import (
	"os"
	"strings"
	"testing"
)

// The README shows this command whole as its example, so that the example
// there is one that compiles and runs.
func TestTheREADMEShowsThisExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	source, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```go\n"+string(source)+"```\n") {
		t.Error("README.md's example differs from cmd/example/main.go: copy main.go into it")
	}
}
