package provenance

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// DefaultVolatileKeys are the payload keys the service leaves out of the
// definition hash unless PROVENANCE_VOLATILE_KEYS says otherwise.
var DefaultVolatileKeys = []string{"timestamp", "createdAt", "updatedAt", "requestedAt", "created_at", "updated_at", "requested_at"}

// Parent is one parent of a job as the input hash sees it: its id and its
// output hash when the job was recorded ("" when it had none).
type Parent struct {
	JobID      string
	OutputHash string
}

// DefinitionHash is the lowercase hex SHA-256 of the canonical JSON of
// {"type": typ, "payload": payload} after every member named in
// volatileKeys was removed at any depth (pass DefaultVolatileKeys for the
// service's default). docs/hashing.md is the specification.
func DefinitionHash(typ string, payload map[string]any, volatileKeys []string) (string, error) {
	return hashOf(definitionDocument(typ, payload, volatileKeys))
}

// InputHash is the lowercase hex SHA-256 of the canonical JSON of the
// definition hash and the parents' output hashes, sorted by parent id.
func InputHash(definitionHash string, parents []Parent) (string, error) {
	return hashOf(inputDocument(definitionHash, parents))
}

// OutputHash is the lowercase hex SHA-256 of the canonical JSON of any JSON
// value.
func OutputHash(output any) (string, error) {
	return hashOf(output)
}

func definitionDocument(typ string, payload map[string]any, volatileKeys []string) map[string]any {
	volatile := make(map[string]bool, len(volatileKeys))
	for _, key := range volatileKeys {
		volatile[key] = true
	}
	// A nil payload is the empty object, as an absent Struct is to the service.
	return map[string]any{"type": typ, "payload": withoutVolatileKeys(payload, volatile)}
}

func inputDocument(definitionHash string, parents []Parent) map[string]any {
	sorted := append([]Parent(nil), parents...)
	sort.Slice(sorted, func(i, j int) bool { return lessUTF16(sorted[i].JobID, sorted[j].JobID) })
	entries := make([]any, len(sorted))
	for i, parent := range sorted {
		var outputHash any // JSON null for a parent that had no output
		if parent.OutputHash != "" {
			outputHash = parent.OutputHash
		}
		entries[i] = map[string]any{"jobId": parent.JobID, "outputHash": outputHash}
	}
	return map[string]any{"definitionHash": definitionHash, "parents": entries}
}

// withoutVolatileKeys copies value without the volatile members of every
// object in it, arrays included; the caller's payload is left as it is.
func withoutVolatileKeys(value any, volatile map[string]bool) any {
	switch v := value.(type) {
	case map[string]any:
		object := make(map[string]any, len(v))
		for key, member := range v {
			if !volatile[key] {
				object[key] = withoutVolatileKeys(member, volatile)
			}
		}
		return object
	case []any:
		array := make([]any, len(v))
		for i, element := range v {
			array[i] = withoutVolatileKeys(element, volatile)
		}
		return array
	default:
		return value
	}
}

func hashOf(value any) (string, error) {
	text, err := CanonicalJSON(value)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:]), nil
}

// CanonicalJSON writes a JSON value as RFC 8785 (JCS) text. It takes what
// encoding/json decodes into an any (nil, bool, float64 or json.Number,
// string, []any, map[string]any) and the Go integer and float types.
// NaN, infinities and strings that are not UTF-8 are refused.
func CanonicalJSON(value any) (string, error) {
	var out strings.Builder
	if err := writeCanonical(&out, value); err != nil {
		return "", err
	}
	return out.String(), nil
}

func writeCanonical(out *strings.Builder, value any) error {
	switch v := value.(type) {
	case nil:
		out.WriteString("null")
	case bool:
		out.WriteString(strconv.FormatBool(v))
	case string:
		return writeString(out, v)
	case float64:
		return writeNumber(out, v)
	case float32:
		return writeNumber(out, float64(v))
	case int:
		return writeNumber(out, float64(v))
	case int32:
		return writeNumber(out, float64(v))
	case int64:
		return writeNumber(out, float64(v))
	case uint:
		return writeNumber(out, float64(v))
	case uint32:
		return writeNumber(out, float64(v))
	case uint64:
		return writeNumber(out, float64(v))
	case json.Number:
		number, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return fmt.Errorf("canonical JSON: number %s is not a finite double", v)
		}
		return writeNumber(out, number)
	case []any:
		out.WriteByte('[')
		for i, element := range v {
			if i > 0 {
				out.WriteByte(',')
			}
			if err := writeCanonical(out, element); err != nil {
				return err
			}
		}
		out.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for key := range v {
			keys = append(keys, key)
		}
		sort.Slice(keys, func(i, j int) bool { return lessUTF16(keys[i], keys[j]) })
		out.WriteByte('{')
		for i, key := range keys {
			if i > 0 {
				out.WriteByte(',')
			}
			if err := writeString(out, key); err != nil {
				return err
			}
			out.WriteByte(':')
			if err := writeCanonical(out, v[key]); err != nil {
				return err
			}
		}
		out.WriteByte('}')
	default:
		return fmt.Errorf("canonical JSON: %T is not a JSON value", value)
	}
	return nil
}

// lessUTF16 orders strings by their UTF-16 code units, as RFC 8785 sorts
// keys; it differs from Go's byte order for characters above U+FFFF.
func lessUTF16(a, b string) bool {
	unitsA, unitsB := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	for i := 0; i < len(unitsA) && i < len(unitsB); i++ {
		if unitsA[i] != unitsB[i] {
			return unitsA[i] < unitsB[i]
		}
	}
	return len(unitsA) < len(unitsB)
}

// writeString escapes only what JSON requires, unlike encoding/json, which
// also escapes <, >, & and U+2028/U+2029.
func writeString(out *strings.Builder, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("canonical JSON: string %q is not valid UTF-8", s)
	}
	out.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			out.WriteString(`\"`)
		case '\\':
			out.WriteString(`\\`)
		case '\b':
			out.WriteString(`\b`)
		case '\f':
			out.WriteString(`\f`)
		case '\n':
			out.WriteString(`\n`)
		case '\r':
			out.WriteString(`\r`)
		case '\t':
			out.WriteString(`\t`)
		default:
			if r < 0x20 {
				fmt.Fprintf(out, `\u%04x`, r)
			} else {
				out.WriteRune(r)
			}
		}
	}
	out.WriteByte('"')
	return nil
}

// writeNumber writes a double the way ECMAScript's Number.prototype.toString
// does, from the shortest decimal digits that round-trip.
func writeNumber(out *strings.Builder, f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("canonical JSON: %v is not a JSON number", f)
	}
	if f == 0 { // -0 too
		out.WriteByte('0')
		return nil
	}
	if f < 0 {
		out.WriteByte('-')
		f = -f
	}
	// "d.ddde±x": the digits, and the exponent of the first one.
	scientific := strconv.FormatFloat(f, 'e', -1, 64)
	mantissa, exponentText, _ := strings.Cut(scientific, "e")
	digits := strings.Replace(mantissa, ".", "", 1)
	exponent, _ := strconv.Atoi(exponentText)
	k, n := len(digits), exponent+1 // the value is 0.digits × 10^n
	switch {
	case k <= n && n <= 21:
		out.WriteString(digits + strings.Repeat("0", n-k))
	case 0 < n && n <= 21:
		out.WriteString(digits[:n] + "." + digits[n:])
	case -6 < n && n <= 0:
		out.WriteString("0." + strings.Repeat("0", -n) + digits)
	default:
		sign := "+"
		if n-1 < 0 {
			sign = "-"
		}
		out.WriteString(digits[:1])
		if k > 1 {
			out.WriteString("." + digits[1:])
		}
		out.WriteString("e" + sign + strconv.Itoa(abs(n-1)))
	}
	return nil
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
