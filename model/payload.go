package model

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Request body formats, as accepted by [ParseMLflowJSON] (all but FormatCSV),
// [ParseCSV] (FormatCSV) and [ParseTFServing] (FormatInstances, FormatInputs),
// and as written by [Example] and [Encode].
const (
	// FormatDataframeSplit is {"dataframe_split":{"columns":[...],"data":[[...],...]}}.
	FormatDataframeSplit = "dataframe_split"
	// FormatDataframeRecords is {"dataframe_records":[{"col":v,...},...]}.
	FormatDataframeRecords = "dataframe_records"
	// FormatInstances is the TF Serving row format {"instances":[...]}; each
	// instance is an object keyed by feature name or a list of the values in
	// feature order.
	FormatInstances = "instances"
	// FormatInputs is the TF Serving columnar format {"inputs":{"col":[...],...}}
	// (a list of rows is accepted too).
	FormatInputs = "inputs"
	// FormatCSV is text/csv with a header row naming the columns.
	FormatCSV = "csv"
)

// Formats lists every request body format, [FormatDataframeSplit] (the default) first.
func Formats() []string {
	return []string{FormatDataframeSplit, FormatDataframeRecords, FormatInstances, FormatInputs, FormatCSV}
}

// ErrBadInput is wrapped by every error of the payload parsers: the request
// is malformed or does not fit the model.
var ErrBadInput = errors.New("bad input")

// badInput returns an error wrapping ErrBadInput that prints as just the message.
func badInput(format string, args ...any) error {
	return &inputError{msg: fmt.Sprintf(format, args...)}
}

type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }
func (e *inputError) Unwrap() error { return ErrBadInput }

// wrapInput adds context to a parse error and makes sure it wraps ErrBadInput.
func wrapInput(err error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if errors.Is(err, ErrBadInput) {
		return fmt.Errorf("%s: %w", msg, err)
	}
	return &inputError{msg: msg + ": " + err.Error()}
}

var mlflowKeys = []string{FormatDataframeSplit, FormatDataframeRecords, FormatInstances, FormatInputs}

// ParseMLflowJSON parses an MLflow scoring-protocol JSON request body (the
// body of POST /invocations with Content-Type application/json) into rows of
// feature values in the order of m.Features.
//
// The body must be an object with exactly one of dataframe_split,
// dataframe_records, instances or inputs; other keys (such as params) are
// ignored, as MLflow does. Columns are matched to features by name; extra
// columns are ignored and a missing one is an error. Values must be JSON
// numbers (a one-element list holding a number is accepted too). At least
// one row is required. Every error wraps [ErrBadInput].
func ParseMLflowJSON(m *Model, body []byte) ([][]float64, error) {
	top, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	var found []string
	for _, k := range mlflowKeys {
		if _, ok := top[k]; ok {
			found = append(found, k)
		}
	}
	if len(found) != 1 {
		return nil, badInput("the request must be a JSON object with exactly one of the keys %s; got keys %s",
			strings.Join(mlflowKeys, ", "), keyList(top))
	}
	raw := top[found[0]]
	var rows [][]float64
	switch found[0] {
	case FormatDataframeSplit:
		rows, err = parseSplit(m, raw)
	case FormatDataframeRecords:
		rows, err = parseRowList(m, raw, false)
	case FormatInstances:
		rows, err = parseRowList(m, raw, true)
	case FormatInputs:
		rows, _, err = parseInputs(m, raw)
	}
	if err != nil {
		return nil, wrapInput(err, "%s", found[0])
	}
	return rows, nil
}

// ParseTFServing parses a TF Serving REST predict request body
// (POST /v1/models/NAME:predict) into rows of feature values in the order of
// m.Features. The body must hold exactly one of "instances" (row format:
// each instance an object keyed by feature name, or a list of values in
// feature order) or "inputs" (columnar format: an object of equal-length
// lists keyed by feature name, or a list of rows). columnar reports the
// "inputs" format, which TF Serving answers with "outputs" instead of
// "predictions". An optional "signature_name" must be "serving_default".
// Every error wraps [ErrBadInput].
func ParseTFServing(m *Model, body []byte) (rows [][]float64, columnar bool, err error) {
	top, err := decodeObject(body)
	if err != nil {
		return nil, false, err
	}
	if sig, ok := top["signature_name"]; ok {
		var s string
		if err := json.Unmarshal(sig, &s); err != nil {
			return nil, false, badInput("signature_name must be a string")
		}
		if s != "" && s != "serving_default" {
			return nil, false, badInput("Serving signature name: %q not found in signature def", s)
		}
	}
	inst, hasInst := top["instances"]
	inp, hasInp := top["inputs"]
	switch {
	case hasInst && hasInp:
		return nil, false, badInput("Not formatted correctly expecting only one of 'inputs' or 'instances' keys exists")
	case hasInst:
		rows, err = parseRowList(m, inst, true)
		if err != nil {
			return nil, false, wrapInput(err, "instances")
		}
		return rows, false, nil
	case hasInp:
		rows, _, err = parseInputs(m, inp)
		if err != nil {
			return nil, false, wrapInput(err, "inputs")
		}
		return rows, true, nil
	default:
		return nil, false, badInput("Missing 'inputs' or 'instances' key")
	}
}

// ParseCSV parses a text/csv request body: a header row naming the columns,
// then one row per example. Columns are matched to features by name (extra
// columns are ignored); values must be finite numbers. Every error wraps
// [ErrBadInput].
func ParseCSV(m *Model, body []byte) ([][]float64, error) {
	cr := csv.NewReader(bytes.NewReader(body))
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, badInput("empty CSV body: a header row naming the columns is required")
		}
		return nil, wrapInput(err, "CSV header")
	}
	cols := make([]string, len(header))
	for i, h := range header {
		cols[i] = strings.TrimSpace(h)
	}
	idx, err := columnIndex(m, cols)
	if err != nil {
		return nil, err
	}
	b := newRowBuilder(len(m.Features), 0)
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, wrapInput(err, "CSV")
		}
		row := b.next()
		for f, j := range idx {
			s := strings.TrimSpace(rec[j])
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || !finite(v) {
				return nil, badInput("CSV line %d, column %q: %q is not a finite number", line, cols[j], truncate([]byte(s)))
			}
			row[f] = v
		}
	}
	return b.rows()
}

// decodeObject decodes the top level of a JSON request.
func decodeObject(body []byte) (map[string]json.RawMessage, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, badInput("the request body must be a JSON object, got %s", te.Value)
		}
		return nil, wrapInput(err, "invalid JSON")
	}
	if top == nil {
		return nil, badInput("the request body must be a JSON object, got null")
	}
	return top, nil
}

func keyList(top map[string]json.RawMessage) string {
	keys := make([]string, 0, len(top))
	for k := range top {
		keys = append(keys, strconv.Quote(k))
	}
	slices.Sort(keys)
	return "[" + strings.Join(keys, ", ") + "]"
}

// parseSplit parses the value of dataframe_split (pandas "split" orient).
func parseSplit(m *Model, raw json.RawMessage) ([][]float64, error) {
	var split struct {
		Columns []string          `json:"columns"`
		Data    []json.RawMessage `json:"data"`
		Index   json.RawMessage   `json:"index"`
	}
	if err := json.Unmarshal(raw, &split); err != nil {
		return nil, wrapInput(err, "expected {\"columns\": [...], \"data\": [[...], ...]}")
	}
	if split.Data == nil {
		return nil, badInput("missing \"data\"")
	}
	var idx []int
	width := len(m.Features)
	if split.Columns != nil {
		var err error
		if idx, err = columnIndex(m, split.Columns); err != nil {
			return nil, err
		}
		width = len(split.Columns)
	}
	b := newRowBuilder(len(m.Features), len(split.Data))
	var vals []num
	var cells []json.RawMessage
	for i, r := range split.Data {
		row := b.next()
		if width == len(m.Features) {
			// Only the model's columns: decode the numbers directly.
			vals = vals[:0]
			if err := json.Unmarshal(r, &vals); err != nil {
				return nil, wrapInput(err, "data row %d", i)
			}
			if len(vals) != width {
				return nil, badInput("data row %d has %d values, want %d", i, len(vals), width)
			}
			for f := range row {
				j := f
				if idx != nil {
					j = idx[f]
				}
				row[f] = float64(vals[j])
			}
			continue
		}
		// Extra columns are ignored, whatever their values.
		cells = cells[:0]
		if err := json.Unmarshal(r, &cells); err != nil {
			return nil, wrapInput(err, "data row %d", i)
		}
		if len(cells) != width {
			return nil, badInput("data row %d has %d values, want %d", i, len(cells), width)
		}
		for f, j := range idx {
			var v num
			if err := v.UnmarshalJSON(cells[j]); err != nil { // a validated JSON value
				return nil, wrapInput(err, "data row %d, column %q", i, split.Columns[j])
			}
			row[f] = float64(v)
		}
	}
	return b.rows()
}

// parseRowList parses a list of rows: objects keyed by feature name, or (when
// lists is true) lists of values in feature order.
func parseRowList(m *Model, raw json.RawMessage, lists bool) ([][]float64, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, wrapInput(err, "expected a list of rows")
	}
	b := newRowBuilder(len(m.Features), len(items))
	var vals []num
	for i, it := range items {
		row := b.next()
		switch firstByte(it) {
		case '{':
			if err := parseRecord(m, it, row); err != nil {
				return nil, wrapInput(err, "row %d", i)
			}
		case '[':
			if !lists {
				return nil, badInput("row %d: expected an object keyed by column name", i)
			}
			vals = vals[:0]
			if err := json.Unmarshal(it, &vals); err != nil {
				return nil, wrapInput(err, "row %d", i)
			}
			if len(vals) != len(m.Features) {
				return nil, badInput("row %d has %d values, want %d (%s)", i, len(vals), len(m.Features), strings.Join(m.Features, ", "))
			}
			for f, v := range vals {
				row[f] = float64(v)
			}
		default:
			if lists {
				return nil, badInput("row %d: expected an object keyed by feature name or a list of %d numbers", i, len(m.Features))
			}
			return nil, badInput("row %d: expected an object keyed by column name", i)
		}
	}
	return b.rows()
}

// parseRecord fills row from one object keyed by feature name.
func parseRecord(m *Model, raw json.RawMessage, row []float64) error {
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(raw, &rec); err != nil {
		return err
	}
	for f, name := range m.Features {
		v, ok := rec[name]
		if !ok {
			return badInput("missing feature %q", name)
		}
		var n num
		if err := n.UnmarshalJSON(v); err != nil { // v is a validated JSON value
			return wrapInput(err, "feature %q", name)
		}
		row[f] = float64(n)
	}
	return nil
}

// parseInputs parses the TF Serving columnar format (an object of columns)
// or, as a fallback, a list of rows.
func parseInputs(m *Model, raw json.RawMessage) (rows [][]float64, columnar bool, err error) {
	switch firstByte(raw) {
	case '[':
		rows, err = parseRowList(m, raw, true)
		return rows, false, err
	case '{':
	default:
		return nil, false, badInput("expected an object of columns keyed by feature name (or a list of rows)")
	}
	var raws map[string]json.RawMessage
	if err := json.Unmarshal(raw, &raws); err != nil {
		return nil, true, wrapInput(err, "expected an object of columns keyed by feature name")
	}
	cols := make([][]num, len(m.Features))
	n := -1
	for f, name := range m.Features {
		r, ok := raws[name]
		if !ok {
			return nil, true, badInput("missing feature %q", name)
		}
		var c []num
		if err := json.Unmarshal(r, &c); err != nil {
			return nil, true, wrapInput(err, "feature %q: expected a list of numbers", name)
		}
		cols[f] = c
		if n >= 0 && len(c) != n {
			return nil, true, badInput("feature %q has %d values but %q has %d: columns must have equal lengths", name, len(c), m.Features[0], n)
		}
		n = len(c)
	}
	b := newRowBuilder(len(m.Features), n)
	for i := range n {
		row := b.next()
		for f := range m.Features {
			row[f] = float64(cols[f][i])
		}
	}
	rows, err = b.rows()
	return rows, true, err
}

// columnIndex maps each model feature to its index in cols.
func columnIndex(m *Model, cols []string) ([]int, error) {
	idx := make([]int, len(m.Features))
	for f, name := range m.Features {
		idx[f] = -1
		for j, c := range cols {
			if c != name {
				continue
			}
			if idx[f] >= 0 {
				return nil, badInput("column %q appears twice", name)
			}
			idx[f] = j
		}
		if idx[f] < 0 {
			return nil, badInput("missing column %q (the model needs %s)", name, strings.Join(m.Features, ", "))
		}
	}
	return idx, nil
}

// rowBuilder allocates rows from one backing array.
type rowBuilder struct {
	width int
	flat  []float64
	out   [][]float64
}

func newRowBuilder(width, capacity int) *rowBuilder {
	capacity = min(capacity, 1<<16) // capacity comes from untrusted input sizes
	return &rowBuilder{width: width, flat: make([]float64, 0, width*capacity), out: make([][]float64, 0, capacity)}
}

func (b *rowBuilder) next() []float64 {
	if len(b.flat)+b.width > cap(b.flat) {
		b.flat = make([]float64, 0, max(2*cap(b.flat), 16*b.width))
	}
	start := len(b.flat)
	b.flat = b.flat[:start+b.width]
	row := b.flat[start : start+b.width : start+b.width]
	b.out = append(b.out, row)
	return row
}

func (b *rowBuilder) rows() ([][]float64, error) {
	if len(b.out) == 0 {
		return nil, badInput("no rows to predict")
	}
	return b.out, nil
}

// num is a JSON number that refuses null, strings, booleans and objects
// (encoding/json would silently turn null into 0). A list holding a single
// number is accepted too, for TF-style per-feature tensors of shape [1].
type num float64

func (n *num) UnmarshalJSON(b []byte) error {
	switch firstByte(b) {
	case '[':
		var inner []num
		if err := json.Unmarshal(b, &inner); err != nil {
			return err
		}
		if len(inner) != 1 {
			return badInput("expected a number, got a list of %d values", len(inner))
		}
		*n = inner[0]
		return nil
	case '"', 'n', 't', 'f', '{':
		return badInput("expected a number, got %s", truncate(b))
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsInf(v, 0) {
		return badInput("number %s is out of range", truncate(b))
	}
	*n = num(v)
	return nil
}

func firstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c
	}
	return 0
}
