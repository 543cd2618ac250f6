package provenance

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// hashVectors is test/fixtures/hash-vectors.json: inputs with the canonical
// text and SHA-256 that Python's hashlib computed for them.
type hashVectors struct {
	VolatileKeys []string `json:"volatileKeys"`
	Definition   []struct {
		Name        string `json:"name"`
		Type        string `json:"type"`
		PayloadJSON string `json:"payloadJson"`
		Canonical   string `json:"canonical"`
		SHA256      string `json:"sha256"`
	} `json:"definition"`
	Input []struct {
		Name           string `json:"name"`
		DefinitionHash string `json:"definitionHash"`
		Parents        []struct {
			JobID      string  `json:"jobId"`
			OutputHash *string `json:"outputHash"`
		} `json:"parents"`
		Canonical string `json:"canonical"`
		SHA256    string `json:"sha256"`
	} `json:"input"`
	Output []struct {
		Name       string `json:"name"`
		OutputJSON string `json:"outputJson"`
		Canonical  string `json:"canonical"`
		SHA256     string `json:"sha256"`
	} `json:"output"`
}

func loadHashVectors(t *testing.T) hashVectors {
	t.Helper()
	path := os.Getenv("PROVENANCE_HASH_VECTORS")
	if path == "" {
		path = filepath.Join("..", "..", "..", "test", "fixtures", "hash-vectors.json")
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the hash vectors (set PROVENANCE_HASH_VECTORS): %v", err)
	}
	var vectors hashVectors
	if err := json.Unmarshal(text, &vectors); err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	if len(vectors.Definition) == 0 || len(vectors.Input) == 0 || len(vectors.Output) == 0 {
		t.Fatalf("%s lacks definition, input or output vectors", path)
	}
	return vectors
}

// decoders: numbers as float64 (json.Unmarshal) and as json.Number
// (Decoder.UseNumber) must canonicalize alike.
var decoders = map[string]func(text string, into any) error{
	"float64": func(text string, into any) error { return json.Unmarshal([]byte(text), into) },
	"json.Number": func(text string, into any) error {
		decoder := json.NewDecoder(bytes.NewReader([]byte(text)))
		decoder.UseNumber()
		return decoder.Decode(into)
	},
}

func TestDefinitionHashVectors(t *testing.T) {
	vectors := loadHashVectors(t)
	for decoderName, decode := range decoders {
		for _, vector := range vectors.Definition {
			t.Run(decoderName+"/"+vector.Name, func(t *testing.T) {
				var payload map[string]any
				if err := decode(vector.PayloadJSON, &payload); err != nil {
					t.Fatal(err)
				}
				canonical, err := CanonicalJSON(definitionDocument(vector.Type, payload, vectors.VolatileKeys))
				if err != nil {
					t.Fatal(err)
				}
				if canonical != vector.Canonical {
					t.Errorf("canonical JSON\n got %s\nwant %s", canonical, vector.Canonical)
				}
				hash, err := DefinitionHash(vector.Type, payload, vectors.VolatileKeys)
				if err != nil {
					t.Fatal(err)
				}
				if hash != vector.SHA256 {
					t.Errorf("definition hash %s, want %s", hash, vector.SHA256)
				}
			})
		}
	}
}

func TestInputHashVectors(t *testing.T) {
	for _, vector := range loadHashVectors(t).Input {
		t.Run(vector.Name, func(t *testing.T) {
			parents := make([]Parent, len(vector.Parents))
			for i, parent := range vector.Parents {
				parents[i].JobID = parent.JobID
				if parent.OutputHash != nil {
					parents[i].OutputHash = *parent.OutputHash
				}
			}
			canonical, err := CanonicalJSON(inputDocument(vector.DefinitionHash, parents))
			if err != nil {
				t.Fatal(err)
			}
			if canonical != vector.Canonical {
				t.Errorf("canonical JSON\n got %s\nwant %s", canonical, vector.Canonical)
			}
			hash, err := InputHash(vector.DefinitionHash, parents)
			if err != nil {
				t.Fatal(err)
			}
			if hash != vector.SHA256 {
				t.Errorf("input hash %s, want %s", hash, vector.SHA256)
			}
		})
	}
}

func TestOutputHashVectors(t *testing.T) {
	vectors := loadHashVectors(t)
	for decoderName, decode := range decoders {
		for _, vector := range vectors.Output {
			t.Run(decoderName+"/"+vector.Name, func(t *testing.T) {
				var output any
				if err := decode(vector.OutputJSON, &output); err != nil {
					t.Fatal(err)
				}
				canonical, err := CanonicalJSON(output)
				if err != nil {
					t.Fatal(err)
				}
				if canonical != vector.Canonical {
					t.Errorf("canonical JSON\n got %s\nwant %s", canonical, vector.Canonical)
				}
				hash, err := OutputHash(output)
				if err != nil {
					t.Fatal(err)
				}
				if hash != vector.SHA256 {
					t.Errorf("output hash %s, want %s", hash, vector.SHA256)
				}
			})
		}
	}
}

// The answers of ECMAScript's Number.prototype.toString for each boundary of
// its format (plain digits up to 21, fixed point down to 1e-6, exponent).
func TestNumbersAreWrittenAsECMAScriptDoes(t *testing.T) {
	for _, c := range []struct {
		number float64
		want   string
	}{
		{1e20, "100000000000000000000"},
		{1.2345678901234568e20, "123456789012345680000"},
		{1e21, "1e+21"},
		{1.5e300, "1.5e+300"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{1e-6, "0.000001"},
		{1.234e-6, "0.000001234"},
		{1e-7, "1e-7"},
		{1.234e-7, "1.234e-7"},
		{5e-324, "5e-324"},
		{-1.5, "-1.5"},
		{math.Copysign(0, -1), "0"},
		{4.35, "4.35"},
		{0.30000000000000004, "0.30000000000000004"},
		{9007199254740993, "9007199254740992"},
	} {
		got, err := CanonicalJSON(c.number)
		if err != nil || got != c.want {
			t.Errorf("CanonicalJSON(%g) = %q, %v; want %q", c.number, got, err, c.want)
		}
	}
}

func TestStringsEscapeOnlyWhatJSONRequires(t *testing.T) {
	got, err := CanonicalJSON("<a & b>\u2028\u2029/\u007f\u001f\"\\")
	want := "\"<a & b>\u2028\u2029/\u007f\\u001f\\\"\\\\\""
	if err != nil || got != want {
		t.Errorf("got %s, %v; want %s", got, err, want)
	}
}

func TestWhatIsNotJSONIsRefused(t *testing.T) {
	for name, value := range map[string]any{
		"NaN":               math.NaN(),
		"infinity":          math.Inf(-1),
		"a number too big":  json.Number("1e400"),
		"invalid UTF-8":     "\xff",
		"an invalid key":    map[string]any{"\xfe": 1},
		"a Go struct":       struct{}{},
		"a nested bad type": []any{map[string]any{"x": []string{"y"}}},
	} {
		if text, err := CanonicalJSON(value); err == nil {
			t.Errorf("%s: got %s, want an error", name, text)
		}
	}
}

func TestVolatileKeysAreRemovedFromACopy(t *testing.T) {
	payload := map[string]any{"n": 1.0, "timestamp": "now", "list": []any{map[string]any{"createdAt": 1.0}}}
	if _, err := DefinitionHash("t", payload, DefaultVolatileKeys); err != nil {
		t.Fatal(err)
	}
	if _, kept := payload["timestamp"]; !kept {
		t.Error("DefinitionHash removed a key from the caller's payload")
	}
	if _, kept := payload["list"].([]any)[0].(map[string]any)["createdAt"]; !kept {
		t.Error("DefinitionHash removed a key from an object in the caller's array")
	}
}
