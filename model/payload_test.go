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

func TestParseMLflowJSON(t *testing.T) {
	m := tinyModel()
	for _, tc := range []parseCase{
		// dataframe_split
		{name: "split", body: `{"dataframe_split":{"columns":["a","b"],"data":[[1,2],[3,4]]}}`, want: rows12},
		{name: "split reordered columns", body: `{"dataframe_split":{"columns":["b","a"],"data":[[2,1],[4,3]]}}`, want: rows12},
		{name: "split extra column ignored", body: `{"dataframe_split":{"index":[0,1],"columns":["id","a","b"],"data":[["x",1,2],[null,3,4]]}}`, want: rows12},
		{name: "split without columns is positional", body: `{"dataframe_split":{"data":[[1,2],[3,4]]}}`, want: rows12},
		{name: "split with params", body: `{"dataframe_split":{"columns":["a","b"],"data":[[1,2],[3,4]]},"params":{"k":1}}`, want: rows12},
		{name: "split floats and exponents", body: `{"dataframe_split":{"columns":["a","b"],"data":[[1.5,-2e3]]}}`, want: [][]float64{{1.5, -2000}}},
		{name: "split missing column", body: `{"dataframe_split":{"columns":["a"],"data":[[1]]}}`, err: `missing column "b"`},
		{name: "split duplicate column", body: `{"dataframe_split":{"columns":["a","b","a"],"data":[[1,2,3]]}}`, err: "twice"},
		{name: "split short row", body: `{"dataframe_split":{"columns":["a","b"],"data":[[1]]}}`, err: "has 1 values, want 2"},
		{name: "split string value", body: `{"dataframe_split":{"columns":["a","b"],"data":[[1,"2"]]}}`, err: "expected a number"},
		{name: "split null value", body: `{"dataframe_split":{"columns":["a","b"],"data":[[1,null]]}}`, err: "expected a number"},
		{name: "split bool value", body: `{"dataframe_split":{"columns":["a","b"],"data":[[true,1]]}}`, err: "expected a number"},
		{name: "split null value in extra-column path", body: `{"dataframe_split":{"columns":["a","b","c"],"data":[[1,null,3]]}}`, err: "expected a number"},
		{name: "split no data", body: `{"dataframe_split":{"columns":["a","b"]}}`, err: "missing \"data\""},
		{name: "split empty data", body: `{"dataframe_split":{"columns":["a","b"],"data":[]}}`, err: "no rows"},
		{name: "split not an object", body: `{"dataframe_split":[1,2]}`, err: "dataframe_split"},
		{name: "split huge number", body: `{"dataframe_split":{"columns":["a","b"],"data":[[1e999,1]]}}`, err: "out of range"},
		// dataframe_records
		{name: "records", body: `{"dataframe_records":[{"a":1,"b":2},{"b":4,"a":3}]}`, want: rows12},
		{name: "records extra key ignored", body: `{"dataframe_records":[{"a":1,"b":2,"name":"x"},{"a":3,"b":4,"name":null}]}`, want: rows12},
		{name: "records missing key", body: `{"dataframe_records":[{"a":1}]}`, err: `missing feature "b"`},
		{name: "records list row", body: `{"dataframe_records":[[1,2]]}`, err: "expected an object"},
		{name: "records scalar row", body: `{"dataframe_records":[1]}`, err: "expected an object"},
		{name: "records not a list", body: `{"dataframe_records":{"a":1,"b":2}}`, err: "list of rows"},
		{name: "records string value", body: `{"dataframe_records":[{"a":"1","b":2}]}`, err: "expected a number"},
		// instances
		{name: "instances lists", body: `{"instances":[[1,2],[3,4]]}`, want: rows12},
		{name: "instances objects", body: `{"instances":[{"a":1,"b":2},{"a":3,"b":4}]}`, want: rows12},
		{name: "instances one-element tensors", body: `{"instances":[{"a":[1],"b":[2]},{"a":[3],"b":[4]}]}`, want: rows12},
		{name: "instances wrong width", body: `{"instances":[[1,2,3]]}`, err: "has 3 values, want 2"},
		{name: "instances two-element tensor", body: `{"instances":[{"a":[1,2],"b":[2]}]}`, err: "list of 2 values"},
		{name: "instances scalar", body: `{"instances":[1,2]}`, err: "list of 2 numbers"},
		{name: "instances empty", body: `{"instances":[]}`, err: "no rows"},
		{name: "instances null", body: `{"instances":null}`, err: "no rows"},
		// inputs
		{name: "inputs columnar", body: `{"inputs":{"a":[1,3],"b":[2,4]}}`, want: rows12},
		{name: "inputs columnar extra column ignored", body: `{"inputs":{"a":[1,3],"b":[2,4],"c":"x"}}`, want: rows12},
		{name: "inputs rows", body: `{"inputs":[[1,2],[3,4]]}`, want: rows12},
		{name: "inputs ragged columns", body: `{"inputs":{"a":[1,3],"b":[2]}}`, err: "equal lengths"},
		{name: "inputs missing column", body: `{"inputs":{"a":[1]}}`, err: `missing feature "b"`},
		{name: "inputs scalar", body: `{"inputs":5}`, err: "expected an object of columns"},
		{name: "inputs column not a list", body: `{"inputs":{"a":1,"b":[2]}}`, err: `feature "a"`},
		{name: "inputs empty columns", body: `{"inputs":{"a":[],"b":[]}}`, err: "no rows"},
		// the envelope
		{name: "no format key", body: `{"data":[[1,2]]}`, err: "exactly one of the keys"},
		{name: "two format keys", body: `{"instances":[[1,2]],"inputs":[[1,2]]}`, err: "exactly one of the keys"},
		{name: "empty object", body: `{}`, err: "exactly one"},
		{name: "array body", body: `[[1,2]]`, err: "must be a JSON object, got array"},
		{name: "null body", body: `null`, err: "got null"},
		{name: "not json", body: `dataframe_split`, err: "invalid JSON"},
		{name: "empty body", body: ``, err: "invalid JSON"},
		{name: "truncated", body: `{"instances":[[1,2]`, err: "invalid JSON"},
		{name: "trailing garbage", body: `{"instances":[[1,2]]} x`, err: "invalid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := ParseMLflowJSON(m, []byte(tc.body))
			checkParse(t, tc, rows, err)
		})
	}
}

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

func TestParseCSV(t *testing.T) {
	m := tinyModel()
	for _, tc := range []parseCase{
		{name: "csv", body: "a,b\n1,2\n3,4\n", want: rows12},
		{name: "reordered, extra column, spaces, CRLF", body: "id, b ,a\r\nx, 2 ,1\r\ny,4,3\r\n", want: rows12},
		{name: "no trailing newline", body: "a,b\n1,2\n3,4", want: rows12},
		{name: "quoted", body: "\"a\",\"b\"\n\"1\",\"2\"\n3,4\n", want: rows12},
		{name: "empty", body: "", err: "empty CSV"},
		{name: "header only", body: "a,b\n", err: "no rows"},
		{name: "missing column", body: "a\n1\n", err: `missing column "b"`},
		{name: "non-numeric", body: "a,b\n1,x\n", err: `column "b": "x" is not a finite number`},
		{name: "NaN", body: "a,b\n1,NaN\n", err: "finite"},
		{name: "Inf", body: "a,b\n1,+Inf\n", err: "finite"},
		{name: "empty cell", body: "a,b\n1,\n", err: "finite"},
		{name: "ragged", body: "a,b\n1,2,3\n", err: "CSV"},
		{name: "bad quote", body: "a,b\n1,\"2\n", err: "CSV"},
		{name: "json sent as csv", body: `{"instances":[[1,2]]}`, err: "CSV"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := ParseCSV(m, []byte(tc.body))
			checkParse(t, tc, rows, err)
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
