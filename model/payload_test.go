package model

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

// A small model with two features makes readable payloads.
func tinyModel() *Model {
	return &Model{
		Format: FormatV1, Name: "tiny", Version: 1,
		Features: []string{"a", "b"}, Classes: []Label{"0", "1"},
		Means: []float64{0, 0}, Stds: []float64{1, 1}, Weights: []float64{1, -1},
	}
}

type parseCase struct {
	name string
	body string
	want [][]float64 // nil: an error containing err
	err  string
}

func checkParse(t *testing.T, tc parseCase, rows [][]float64, err error) {
	t.Helper()
	if tc.want == nil {
		if err == nil {
			t.Fatalf("accepted %s: rows %v", tc.body, rows)
		}
		if !errors.Is(err, ErrBadInput) {
			t.Fatalf("error %v does not wrap ErrBadInput", err)
		}
		if !strings.Contains(err.Error(), tc.err) {
			t.Fatalf("error %q does not contain %q", err, tc.err)
		}
		return
	}
	if err != nil {
		t.Fatalf("rejected %s: %v", tc.body, err)
	}
	if !slices.EqualFunc(rows, tc.want, slices.Equal[[]float64]) {
		t.Fatalf("rows %v, want %v", rows, tc.want)
	}
}

var rows12 = [][]float64{{1, 2}, {3, 4}}

func TestParseTFServing(t *testing.T) {
	m := tinyModel()
	for _, tc := range []struct {
		parseCase
		columnar bool
	}{
		{parseCase: parseCase{name: "instances lists", body: `{"instances":[[1,2],[3,4]]}`, want: rows12}},
		{parseCase: parseCase{name: "instances objects", body: `{"signature_name":"serving_default","instances":[{"a":1,"b":2},{"a":3,"b":4}]}`, want: rows12}},
		{parseCase: parseCase{name: "instances tensors", body: `{"instances":[{"a":[1],"b":[2]},{"a":[3],"b":[4]}]}`, want: rows12}},
		{parseCase: parseCase{name: "inputs columnar", body: `{"inputs":{"a":[1,3],"b":[2,4]}}`, want: rows12}, columnar: true},
		{parseCase: parseCase{name: "inputs rows", body: `{"inputs":[[1,2],[3,4]]}`, want: rows12}, columnar: true},
		{parseCase: parseCase{name: "both keys", body: `{"instances":[[1,2]],"inputs":[[1,2]]}`, err: "only one of 'inputs' or 'instances'"}},
		{parseCase: parseCase{name: "no key", body: `{"dataframe_split":{"columns":["a","b"],"data":[[1,2]]}}`, err: "Missing 'inputs' or 'instances' key"}},
		{parseCase: parseCase{name: "unknown signature", body: `{"signature_name":"x","instances":[[1,2]]}`, err: `"x" not found`}},
		{parseCase: parseCase{name: "signature not a string", body: `{"signature_name":1,"instances":[[1,2]]}`, err: "signature_name"}},
		{parseCase: parseCase{name: "bad value", body: `{"instances":[["x",2]]}`, err: "expected a number"}},
		{parseCase: parseCase{name: "bad columnar value", body: `{"inputs":{"a":[1],"b":[null]}}`, err: "expected a number"}},
		{parseCase: parseCase{name: "not an object", body: `"instances"`, err: "must be a JSON object"}},
		{parseCase: parseCase{name: "not json", body: `{`, err: "invalid JSON"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, columnar, err := ParseTFServing(m, []byte(tc.body))
			checkParse(t, tc.parseCase, rows, err)
			if err == nil && columnar != tc.columnar {
				t.Fatalf("columnar = %v, want %v", columnar, tc.columnar)
			}
		})
	}
}

// TestExamplesRoundTrip checks that every example body parses back to
// ExampleRows, through the parser of each protocol that accepts it.
func TestExamplesRoundTrip(t *testing.T) {
	for _, m := range []*Model{Default(), tinyModel()} {
		want := ExampleRows(m)
		if p0, p1 := m.PredictIndex(want[0]), m.PredictIndex(want[1]); m.Name == DefaultName && (p0 != 0 || p1 != 1) {
			t.Errorf("default example rows predict %d, %d; want 0, 1", p0, p1)
		}
		for _, f := range append(Formats(), "") {
			body, ct, err := Example(m, f)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			var rows [][]float64
			if f == FormatCSV {
				if ct != ContentTypeCSV {
					t.Fatalf("csv content type %q", ct)
				}
				rows, err = ParseCSV(m, body)
			} else {
				if ct != ContentTypeJSON {
					t.Fatalf("%s content type %q", f, ct)
				}
				rows, err = ParseMLflowJSON(m, body)
			}
			if err != nil {
				t.Fatalf("%s: %s: %v", f, body, err)
			}
			if !slices.EqualFunc(rows, want, slices.Equal[[]float64]) {
				t.Fatalf("%s: rows %v, want %v", f, rows, want)
			}
			if f == FormatInstances || f == FormatInputs {
				rows, columnar, err := ParseTFServing(m, body)
				if err != nil || columnar != (f == FormatInputs) || !slices.EqualFunc(rows, want, slices.Equal[[]float64]) {
					t.Fatalf("TF %s: rows %v columnar %v err %v", f, rows, columnar, err)
				}
			}
		}
	}
	if _, _, err := Example(Default(), "xml"); err == nil {
		t.Fatal("unknown format accepted")
	}
	if _, _, err := Encode(tinyModel(), FormatInstances, [][]float64{{1}}); err == nil {
		t.Fatal("short row accepted")
	}
	if _, _, err := Encode(tinyModel(), FormatInstances, [][]float64{{1, math.NaN()}}); err == nil {
		t.Fatal("NaN accepted")
	}
}

func TestInvalidExampleRejected(t *testing.T) {
	body, ct := InvalidExample()
	if ct != ContentTypeJSON {
		t.Fatalf("content type %q", ct)
	}
	for _, m := range []*Model{Default(), tinyModel()} {
		if _, err := ParseMLflowJSON(m, body); !errors.Is(err, ErrBadInput) {
			t.Fatalf("MLflow parser: %v", err)
		}
		if _, _, err := ParseTFServing(m, body); !errors.Is(err, ErrBadInput) {
			t.Fatalf("TF parser: %v", err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	m := Default()
	for _, f := range Formats() {
		body, _, err := Example(m, f)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(f, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if f == FormatCSV {
					_, err = ParseCSV(m, body)
				} else {
					_, err = ParseMLflowJSON(m, body)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
