package model

import (
	"errors"
	"testing"
)

// Seed corpora live in testdata/fuzz/FuzzParse*; the example bodies are added too.
// Run a fuzzer with e.g. go test -fuzz=FuzzParseMLflowJSON ./model/

func addExamples(f *testing.F) {
	for _, m := range []*Model{Default(), tinyModel()} {
		for _, format := range Formats() {
			body, _, err := Example(m, format)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(body)
		}
	}
	body, _ := InvalidExample()
	f.Add(body)
}

// checkRows checks the parser contract: either an ErrBadInput error, or at
// least one row, every row as wide as the model, all values finite.
func checkRows(t *testing.T, m *Model, rows [][]float64, err error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrBadInput) {
			t.Fatalf("error does not wrap ErrBadInput: %v", err)
		}
		if rows != nil {
			t.Fatalf("rows %v returned with error %v", rows, err)
		}
		return
	}
	if len(rows) == 0 {
		t.Fatal("no rows and no error")
	}
	for _, r := range rows {
		if len(r) != len(m.Features) {
			t.Fatalf("row %v has %d values, want %d", r, len(r), len(m.Features))
		}
		for _, v := range r {
			if !finite(v) {
				t.Fatalf("non-finite value in %v", r)
			}
		}
		p := m.Probability(r)
		if !(p >= 0 && p <= 1) {
			t.Fatalf("probability %v", p)
		}
	}
}

func FuzzParseMLflowJSON(f *testing.F) {
	addExamples(f)
	m := tinyModel()
	d := Default()
	f.Fuzz(func(t *testing.T, body []byte) {
		rows, err := ParseMLflowJSON(m, body)
		checkRows(t, m, rows, err)
		rows, err = ParseMLflowJSON(d, body)
		checkRows(t, d, rows, err)
	})
}

func FuzzParseTFServing(f *testing.F) {
	addExamples(f)
	m := tinyModel()
	d := Default()
	f.Fuzz(func(t *testing.T, body []byte) {
		rows, _, err := ParseTFServing(m, body)
		checkRows(t, m, rows, err)
		rows, _, err = ParseTFServing(d, body)
		checkRows(t, d, rows, err)
	})
}

func FuzzParseCSV(f *testing.F) {
	addExamples(f)
	m := tinyModel()
	d := Default()
	f.Fuzz(func(t *testing.T, body []byte) {
		rows, err := ParseCSV(m, body)
		checkRows(t, m, rows, err)
		rows, err = ParseCSV(d, body)
		checkRows(t, d, rows, err)
	})
}
