package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
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
