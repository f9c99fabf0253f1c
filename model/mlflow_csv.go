package model

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// pandasNA are the cells pandas.read_csv reads as NaN by default.
var pandasNA = map[string]bool{
	"": true, "#N/A": true, "#N/A N/A": true, "#NA": true, "-1.#IND": true, "-1.#QNAN": true,
	"-NaN": true, "-nan": true, "1.#IND": true, "1.#QNAN": true, "<NA>": true, "N/A": true,
	"NA": true, "NULL": true, "NaN": true, "None": true, "n/a": true, "nan": true, "null": true,
}

// ParseCSV parses a text/csv request body as an MLflow 3.11 scoring server
// does (pandas.read_csv with the signature's columns as float64): a header
// row naming the columns, then one row per example. Columns are matched to
// features by name, exactly (pandas keeps spaces in names); extra columns
// are ignored; empty and NA cells are NaN, which the model refuses. Every
// error is an [*MLflowError] (see [ParseMLflowJSON]).
func ParseCSV(m *Model, body []byte) ([][]float64, error) {
	f, err := readCSVFrame(m, body)
	if err != nil {
		return nil, mlBadRequest("Failed to parse input as a Pandas DataFrame. Ensure that the input is"+
			" a valid CSV-formatted Pandas DataFrame produced using the"+
			" `pandas.DataFrame.to_csv()` method. Error: '%s'", err.Error())
	}
	return enforceFrame(m, f, nil, nil)
}

// readCSVFrame reads the body into a frame, converting the signature's
// columns to float64.
func readCSVFrame(m *Model, body []byte) (*frame, error) {
	if q := bytes.Count(body, []byte{'"'}); q%2 == 1 {
		// pandas reads to the end inside the unclosed quoted field
		i := bytes.LastIndexByte(body, '"')
		return nil, fmt.Errorf("Error tokenizing data. C error: EOF inside string starting at row %d", bytes.Count(body[:i], []byte{'\n'}))
	}
	cr := csv.NewReader(bytes.NewReader(body))
	cr.FieldsPerRecord = -1 // short rows are padded, as pandas does
	cr.LazyQuotes = true    // a quote inside an unquoted field is a character, as in pandas
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("No columns to parse from file")
	}
	if err != nil {
		return nil, fmt.Errorf("Error tokenizing data. %v", err)
	}
	f := &frame{}
	seen := map[string]int{}
	for i, h := range header {
		name := h
		if name == "" {
			name = fmt.Sprintf("Unnamed: %d", i)
		}
		if k := seen[h]; k > 0 { // pandas renames duplicates a, a.1, a.2
			name = fmt.Sprintf("%s.%d", h, k)
		}
		seen[h]++
		c := &column{name: name, named: true}
		if m.hasFeature(name) {
			c.vals = []float64{}
		}
		f.cols = append(f.cols, c)
	}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("Error tokenizing data. %v", err)
		}
		if len(rec) > len(header) {
			line, _ = cr.FieldPos(0)
			return nil, fmt.Errorf("Error tokenizing data. C error: Expected %d fields in line %d, saw %d\n", len(header), line, len(rec))
		}
		for j, c := range f.cols {
			cell := ""
			if j < len(rec) {
				cell = rec[j]
			}
			c.cells = append(c.cells, cell)
			if c.vals == nil {
				continue
			}
			v := math.NaN()
			if t := strings.TrimSpace(cell); !pandasNA[t] {
				var ok bool
				if v, ok = pyFloatString(t); !ok {
					return nil, fmt.Errorf("could not convert string to float: %s", pyStrRepr(cell))
				}
			}
			c.vals = append(c.vals, v)
		}
		f.n++
	}
	return f, nil
}
