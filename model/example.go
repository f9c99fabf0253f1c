package model

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Content types of request bodies.
const (
	// ContentTypeJSON is the content type of every JSON request body.
	ContentTypeJSON = "application/json"
	// ContentTypeCSV is the content type of FormatCSV request bodies.
	ContentTypeCSV = "text/csv"
)

// Example returns a valid request body for m in the given format (one of
// [Formats]; "" means [FormatDataframeSplit]) and its content type. The body
// holds the two rows of [ExampleRows]. The instances and inputs bodies are
// valid for both POST /invocations (MLflow) and POST /v1/models/NAME:predict
// (TF Serving).
func Example(m *Model, format string) (body []byte, contentType string, err error) {
	return Encode(m, format, ExampleRows(m))
}

// ExampleRows returns two plausible rows for m: the training means, and the
// means moved one standard deviation towards Classes[1] on every feature
// (so the two rows usually get different predictions). Values are rounded to
// two decimals; a feature with a non-negative mean is not made negative.
func ExampleRows(m *Model) [][]float64 {
	a := make([]float64, len(m.Features))
	b := make([]float64, len(m.Features))
	for i := range m.Features {
		a[i] = round2(m.Means[i])
		step := m.Stds[i]
		if m.Weights[i] < 0 {
			step = -step
		}
		v := m.Means[i] + step
		if m.Means[i] >= 0 && v < 0 {
			v = 0 // a non-negative feature stays non-negative
		}
		b[i] = round2(v)
	}
	return [][]float64{a, b}
}

// Encode returns a request body for m holding rows (values in the order of
// m.Features) in the given format ("" means [FormatDataframeSplit]) and its
// content type. Column order follows m.Features in every format.
func Encode(m *Model, format string, rows [][]float64) (body []byte, contentType string, err error) {
	for i, r := range rows {
		if len(r) != len(m.Features) {
			return nil, "", fmt.Errorf("row %d has %d values, want %d", i, len(r), len(m.Features))
		}
		for _, v := range r {
			if !finite(v) {
				return nil, "", fmt.Errorf("row %d: %v is not a finite number", i, v)
			}
		}
	}
	var b bytes.Buffer
	switch format {
	case FormatDataframeSplit, "":
		b.WriteString(`{"dataframe_split":{"columns":`)
		writeNames(&b, m.Features)
		b.WriteString(`,"data":[`)
		for i, r := range rows {
			if i > 0 {
				b.WriteByte(',')
			}
			writeList(&b, r)
		}
		b.WriteString("]}}")
	case FormatDataframeRecords, FormatInstances:
		b.WriteString(`{"` + format + `":[`)
		for i, r := range rows {
			if i > 0 {
				b.WriteByte(',')
			}
			writeRecord(&b, m.Features, r)
		}
		b.WriteString("]}")
	case FormatInputs:
		b.WriteString(`{"inputs":{`)
		col := make([]float64, len(rows))
		for f, name := range m.Features {
			if f > 0 {
				b.WriteByte(',')
			}
			writeName(&b, name)
			b.WriteByte(':')
			for i, r := range rows {
				col[i] = r[f]
			}
			writeList(&b, col)
		}
		b.WriteString("}}")
	case FormatCSV:
		w := csv.NewWriter(&b)
		if err := w.Write(m.Features); err != nil {
			return nil, "", fmt.Errorf("encode CSV: %w", err)
		}
		rec := make([]string, len(m.Features))
		for _, r := range rows {
			for i, v := range r {
				rec[i] = formatFloat(v)
			}
			if err := w.Write(rec); err != nil {
				return nil, "", fmt.Errorf("encode CSV: %w", err)
			}
		}
		w.Flush()
		if err := w.Error(); err != nil {
			return nil, "", fmt.Errorf("encode CSV: %w", err)
		}
		return b.Bytes(), ContentTypeCSV, nil
	default:
		return nil, "", fmt.Errorf("unknown request format %q (want one of %v)", format, Formats())
	}
	return b.Bytes(), ContentTypeJSON, nil
}

// InvalidExample returns a JSON request body that both POST /invocations and
// POST /v1/models/NAME:predict reject with 400 (a string where a number is
// required), and its content type. Load generators use it to inject errors.
func InvalidExample() (body []byte, contentType string) {
	return []byte(`{"instances":[["not-a-number"]]}`), ContentTypeJSON
}

func writeNames(b *bytes.Buffer, names []string) {
	b.WriteByte('[')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		writeName(b, n)
	}
	b.WriteByte(']')
}

func writeName(b *bytes.Buffer, name string) {
	q, _ := json.Marshal(name) // a string always encodes
	b.Write(q)
}

func writeList(b *bytes.Buffer, vals []float64) {
	b.WriteByte('[')
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(formatFloat(v))
	}
	b.WriteByte(']')
}

func writeRecord(b *bytes.Buffer, names []string, vals []float64) {
	b.WriteByte('{')
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(',')
		}
		writeName(b, names[i])
		b.WriteByte(':')
		b.WriteString(formatFloat(v))
	}
	b.WriteByte('}')
}

// formatFloat writes v as a JSON number (integers without a decimal point).
func formatFloat(v float64) string {
	if v == 0 {
		return "0"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func round2(v float64) float64 {
	r := math.Round(v*100) / 100
	if r == 0 {
		return 0
	}
	return r
}
