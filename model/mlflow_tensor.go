package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// This file follows MLflow's handling of the TF Serving-style keys of
// POST /invocations ("instances", "inputs"): values are converted to numpy
// arrays per column (_cast_schema_type, parse_instances_data), then turned
// into a DataFrame and checked against the signature (_enforce_schema).

// pyErr is a Python exception: its class and message.
type pyErr struct{ class, msg string }

// toFloat converts one decoded JSON value as numpy/pandas do for float64:
// None is NaN, booleans are 1 and 0, strings as float(str).
func toFloat(v any) (float64, *pyErr) {
	switch x := v.(type) {
	case nil:
		return math.NaN(), nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case json.Number:
		if isIntLiteral(string(x)) && strings.HasPrefix(string(x), "-") && strings.Trim(string(x), "-0") == "" {
			return 0, nil // Python's int has no negative zero
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil && !isRangeErr(err) {
			return 0, &pyErr{"ValueError", "could not convert string to float: " + pyStrRepr(string(x))}
		}
		return f, nil // out of range is ±Inf, as Python's json makes it
	case string:
		if f, ok := pyFloatString(x); ok {
			return f, nil
		}
		return 0, &pyErr{"ValueError", "could not convert string to float: " + pyStrRepr(x)}
	case []any:
		return 0, &pyErr{"ValueError", "setting an array element with a sequence."}
	default:
		return 0, &pyErr{"TypeError", "float() argument must be a string or a real number, not '" + pyTypeName(v) + "'"}
	}
}

func isRangeErr(err error) bool { return strings.Contains(err.Error(), "value out of range") }

// ndarray is a numpy float64 array: its shape and values in C order. A
// scalar has an empty shape and one value.
type ndarray struct {
	shape []int
	flat  []float64
}

// npArray is np.array(v, dtype=float64) (typed) or np.array(v) (untyped:
// only the shape is checked, values are not converted).
func npArray(v any, typed bool) (ndarray, *pyErr) {
	var a ndarray
	shape, err := npShape(v, nil)
	if err != nil {
		return a, err
	}
	a.shape = shape
	if !typed {
		return a, nil
	}
	var walk func(any) *pyErr
	walk = func(x any) *pyErr {
		if l, ok := x.([]any); ok {
			for _, e := range l {
				if err := walk(e); err != nil {
					return err
				}
			}
			return nil
		}
		f, err := toFloat(x)
		if err != nil {
			return err
		}
		a.flat = append(a.flat, f)
		return nil
	}
	return a, walk(v)
}

// npShape is the shape numpy gives v, or its "inhomogeneous shape" error.
func npShape(v any, prefix []int) ([]int, *pyErr) {
	l, ok := v.([]any)
	if !ok {
		return []int{}, nil
	}
	here := append(slices.Clone(prefix), len(l))
	var first []int
	for i, e := range l {
		s, err := npShape(e, here)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			first = s
		} else if !slices.Equal(s, first) {
			return nil, &pyErr{"ValueError", fmt.Sprintf("setting an array element with a sequence. The requested array has an inhomogeneous shape after %d dimensions. The detected shape was %s + inhomogeneous part.",
				len(here), pyTuple(here))}
		}
	}
	return append([]int{len(l)}, first...), nil
}

func pyTuple(s []int) string {
	parts := make([]string, len(s))
	for i, n := range s {
		parts[i] = strconv.Itoa(n)
	}
	if len(s) == 1 {
		return "(" + parts[0] + ",)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// tensorInput is the data MLflow hands to the model for "instances" and
// "inputs": a dictionary of arrays, one array, or a frame.
type tensorInput struct {
	err   error
	dict  []dictEntry // a dictionary of columns
	isDic bool
	arr   *ndarray // one array (or a scalar: empty shape)
	frame *frame   // a list of records
	// records and ord print the list of records in messages
	records []any
	ord     keyOrder
	// raw, when set, is printed in messages as the Python value it is
	raw    any
	rawSet bool
}

type dictEntry struct {
	name  string
	arr   ndarray
	typed bool // converted to float64 (a signature column)
	raw   any
}

// convertDataType is MLflow's convert_data_type: typed float64 for a
// signature column, untyped otherwise; errors are "Invalid input. <msg>".
func convertDataType(v any, typed bool) (ndarray, error) {
	a, err := npArray(v, typed)
	if err != nil {
		return a, invalidInput("%s", err.msg)
	}
	return a, nil
}

// parseInstances is MLflow's parse_instances_data.
func parseInstances(m *Model, v any, ord keyOrder) tensorInput {
	l, ok := v.([]any)
	if !ok || len(l) == 0 {
		return castSchemaType(m, v, ord)
	}
	if _, ok := l[0].(map[string]any); !ok {
		return castSchemaType(m, v, ord)
	}
	// a list of records, turned into columns
	var order []string
	vals := map[string][]ndarray{}
	raws := map[string][]any{}
	for _, item := range l {
		rec, ok := item.(map[string]any)
		if !ok {
			return tensorInput{err: invalidInput("Ensure that the input is a valid JSON-formatted string.\nError: %s",
				pyExcRepr("AttributeError", "'"+pyTypeName(item)+"' object has no attribute 'items'"))}
		}
		for _, k := range ord.keys(rec) {
			a, err := convertDataType(rec[k], m.hasFeature(k))
			if err != nil {
				return tensorInput{err: err}
			}
			if _, seen := vals[k]; !seen {
				order = append(order, k)
			}
			vals[k] = append(vals[k], a)
			raws[k] = append(raws[k], rec[k])
		}
	}
	in := tensorInput{isDic: true}
	for _, k := range order {
		typed := m.hasFeature(k)
		in.dict = append(in.dict, dictEntry{name: k, arr: stack(vals[k], typed), typed: typed, raw: raws[k]})
	}
	// every signature column must have as many values as the others
	n := -1
	for _, e := range in.dict {
		if !e.typed {
			continue
		}
		if n >= 0 && e.arr.shape[0] != n {
			return tensorInput{err: invalidInput("The length of values for each input/column name are not the same")}
		}
		n = e.arr.shape[0]
	}
	return in
}

// stack is np.array(list of arrays); arrays of different shapes make an
// object column, which the signature check refuses.
func stack(as []ndarray, typed bool) ndarray {
	out := ndarray{shape: append([]int{len(as)}, as[0].shape...)}
	for _, a := range as[1:] {
		if !slices.Equal(a.shape, as[0].shape) {
			out.shape = []int{len(as), -1} // ragged: an object column
			return out
		}
	}
	if typed {
		for _, a := range as {
			out.flat = append(out.flat, a.flat...)
		}
	}
	return out
}

// castSchemaType is MLflow's _cast_schema_type for a signature of named
// double columns.
func castSchemaType(m *Model, v any, ord keyOrder) tensorInput {
	if l, ok := v.([]any); ok && len(m.Features) == 1 {
		hasDict := false
		for _, e := range l {
			if _, ok := e.(map[string]any); ok {
				hasDict = true
			}
		}
		if !hasDict {
			v = map[string]any{m.Features[0]: l}
		}
	}
	switch x := v.(type) {
	case map[string]any:
		in := tensorInput{isDic: true}
		for _, k := range ord.keys(x) {
			typed := m.hasFeature(k)
			a, err := convertDataType(x[k], typed)
			if err != nil {
				return tensorInput{err: err}
			}
			in.dict = append(in.dict, dictEntry{name: k, arr: a, typed: typed, raw: x[k]})
		}
		return in
	case []any:
		allDicts := true
		for _, e := range x {
			if _, ok := e.(map[string]any); !ok {
				allDicts = false
			}
		}
		if allDicts {
			rows := make([]any, len(x))
			for i, e := range x {
				rec := e.(map[string]any)
				conv := make(map[string]any, len(rec))
				for k, cell := range rec {
					if !m.hasFeature(k) {
						conv[k] = cell
						continue
					}
					a, err := convertDataType(cell, true)
					if err != nil {
						return tensorInput{err: err}
					}
					conv[k] = a
				}
				ord.copyOrder(rec, conv)
				rows[i] = conv
			}
			f, _ := dictRowsFrame(rows, ord) // all rows are objects: cannot fail
			for _, c := range f.cols {
				if m.hasFeature(c.name) {
					c.vals = make([]float64, f.n)
					for i, cell := range c.cells {
						c.vals[i] = math.NaN()
						if a, ok := cell.(ndarray); ok {
							if len(a.shape) > 0 {
								c.object = true
							} else {
								c.vals[i] = a.flat[0]
							}
						}
					}
				}
			}
			return tensorInput{frame: f, records: rows, ord: ord}
		}
		a, err := convertDataType(x, true)
		if err != nil {
			return tensorInput{err: err}
		}
		return tensorInput{arr: &a}
	default:
		a, err := npArray(v, true)
		if err != nil {
			return tensorInput{err: invalidInput("Failed to convert data `%s` to type `%s` defined in the model signature.",
				pyStrOf(v), pyStrRepr(m.Features[0])+": double (required)")}
		}
		return tensorInput{arr: &a}
	}
}

// pyStrOf is str() of a decoded JSON value.
func pyStrOf(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return pyValueRepr(v)
}

// enforce turns the tensor input into a DataFrame as _enforce_schema does,
// then checks it against the signature.
func enforce(m *Model, in tensorInput) ([][]float64, error) {
	if in.err != nil {
		return nil, in.err
	}
	f, err := in.toFrame()
	if err != nil {
		d := in.repr()
		return nil, &MLflowError{Code: MLflowInvalidParameterValue, Message: fmt.Sprintf(
			"Failed to predict data '%s'. \nError: Failed to enforce schema of data '%s' with schema '%s'. Error: %s",
			d, d, m.schemaRepr(), err.Error())}
	}
	return enforceFrame(m, f, nil, in.repr)
}

type plainErr string

func (e plainErr) Error() string { return string(e) }

// toFrame is pd.DataFrame(...) of the tensor input.
func (in tensorInput) toFrame() (*frame, error) {
	switch {
	case in.frame != nil:
		return in.frame, nil
	case in.arr != nil:
		a := in.arr
		switch len(a.shape) {
		case 0: // a scalar: one row, column 0
			return &frame{cols: []*column{{pos: 0, vals: a.flat, cells: []any{a.flat[0]}}}, n: 1}, nil
		case 1:
			c := &column{pos: 0, vals: a.flat}
			return &frame{cols: []*column{c}, n: a.shape[0]}, nil
		case 2:
			cols := positional(a.shape[1])
			for j, c := range cols {
				c.vals = make([]float64, a.shape[0])
				for i := range c.vals {
					c.vals[i] = a.flat[i*a.shape[1]+j]
				}
			}
			return &frame{cols: cols, n: a.shape[0]}, nil
		default:
			return nil, plainErr("Must pass 2-d input. shape=" + pyTuple(a.shape))
		}
	}
	// a dictionary of columns
	n, allScalar := -1, true
	for _, e := range in.dict {
		if len(e.arr.shape) == 0 {
			continue
		}
		allScalar = false
		if n >= 0 && e.arr.shape[0] != n {
			return nil, plainErr("This model contains a column-based signature, which suggests a DataFrame input. " +
				"There was an error casting the input data to a DataFrame: All arrays must be of the same length")
		}
		n = e.arr.shape[0]
	}
	if allScalar {
		n = 1
	}
	f := &frame{n: n}
	for _, e := range in.dict {
		c := &column{name: e.name, named: true}
		switch {
		case len(e.arr.shape) > 1:
			c.object = true
		case !e.typed:
		case len(e.arr.shape) == 0: // a scalar, broadcast
			c.vals = make([]float64, n)
			for i := range c.vals {
				c.vals[i] = e.arr.flat[0]
			}
		default:
			c.vals = e.arr.flat
		}
		f.cols = append(f.cols, c)
	}
	return f, nil
}

// repr prints the input as MLflow's messages do: str() of what it hands to
// the model (a numpy array, a dict of arrays, a list of dicts). Scalars are
// printed as numpy 2 does (np.float64(1.0)).
func (in tensorInput) repr() string {
	switch {
	case in.rawSet:
		return pyRepr(in.raw, in.ord)
	case in.arr != nil && len(in.arr.shape) == 0:
		return pyFloatRepr(in.arr.flat[0])
	case in.arr != nil:
		return npStr(*in.arr)
	case in.records != nil:
		parts := make([]string, len(in.records))
		for i, r := range in.records {
			rec := r.(map[string]any)
			var kv []string
			for _, k := range in.ord.keys(rec) {
				v := npUntypedRepr(rec[k]) // MLflow makes np.array(value) of it
				if a, ok := rec[k].(ndarray); ok {
					v = npValueRepr(a, nil)
				}
				kv = append(kv, pyStrRepr(k)+": "+v)
			}
			parts[i] = "{" + strings.Join(kv, ", ") + "}"
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	parts := make([]string, len(in.dict))
	for i, e := range in.dict {
		v := npUntypedRepr(e.raw)
		if e.typed {
			v = npValueRepr(e.arr, e.raw)
		}
		parts[i] = pyStrRepr(e.name) + ": " + v
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// npValueRepr is repr() of a float64 array or scalar (raw: its JSON value,
// for the object arrays of ragged data).
func npValueRepr(a ndarray, raw any) string {
	switch {
	case len(a.shape) == 0:
		return "np.float64(" + pyFloatRepr(a.flat[0]) + ")"
	case slices.Contains(a.shape, -1):
		return "array(" + pyValueRepr(raw) + ", dtype=object)"
	}
	return npRepr(a)
}

// npUntypedRepr is repr(np.array(v)) for a column the signature does not
// name: strings get numpy's '<U' dtype, numbers print as numpy does.
func npUntypedRepr(v any) string {
	l, isList := v.([]any)
	if !isList {
		l = []any{v}
	}
	strs, nums, ints := 0, 0, 0
	width := 0
	for _, e := range l {
		switch x := e.(type) {
		case string:
			strs++
			width = max(width, len([]rune(x)))
		case json.Number:
			nums++
			if isIntLiteral(string(x)) {
				ints++
			}
		}
	}
	switch {
	case strs == len(l) && len(l) > 0:
		body := pyValueRepr(v)
		return "array(" + body + ", dtype='<U" + strconv.Itoa(width) + "')"
	case nums == len(l) && ints < nums && len(l) > 0:
		a, err := npArray(v, true)
		if err == nil {
			if !isList {
				return "array(" + pyFloatRepr(a.flat[0]) + ")"
			}
			return npRepr(a)
		}
	}
	return "array(" + pyValueRepr(v) + ")"
}

// keyOrder records the key order of decoded JSON objects, by map identity
// (Go's maps keep none; Python's dicts keep the request's).
type keyOrder map[uintptr][]string

// keys are the keys of d in request order when known, else sorted.
func (o keyOrder) keys(d map[string]any) []string {
	if ks, ok := o[reflect.ValueOf(d).Pointer()]; ok {
		return ks
	}
	ks := make([]string, 0, len(d))
	for k := range d {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// copyOrder gives dst the key order of src.
func (o keyOrder) copyOrder(src, dst map[string]any) {
	if ks, ok := o[reflect.ValueOf(src).Pointer()]; ok {
		o[reflect.ValueOf(dst).Pointer()] = ks
	}
}

// decodeOrdered decodes a JSON object (numbers as json.Number) keeping the
// order of every object's keys; a repeated key keeps its first place and
// its last value, as in Python.
func decodeOrdered(body []byte) (map[string]any, keyOrder, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	ord := keyOrder{}
	var value func() (any, error)
	value = func() (any, error) {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch t {
		case json.Delim('{'):
			obj := map[string]any{}
			var keys []string
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := value()
				if err != nil {
					return nil, err
				}
				if _, dup := obj[k]; !dup {
					keys = append(keys, k)
				}
				obj[k] = v
			}
			ord[reflect.ValueOf(obj).Pointer()] = keys
			_, err := dec.Token() // }
			return obj, err
		case json.Delim('['):
			list := []any{}
			for dec.More() {
				v, err := value()
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			_, err := dec.Token() // ]
			return list, err
		}
		return t, nil
	}
	v, err := value()
	if err != nil {
		return nil, nil, err
	}
	top, ok := v.(map[string]any)
	if !ok {
		return nil, nil, errors.New("not an object")
	}
	return top, ord, nil
}

// pyRepr is repr() of a decoded JSON value, dict keys in request order.
func pyRepr(v any, ord keyOrder) string {
	switch x := v.(type) {
	case map[string]any:
		parts := make([]string, 0, len(x))
		for _, k := range ord.keys(x) {
			parts = append(parts, pyStrRepr(k)+": "+pyRepr(x[k], ord))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = pyRepr(e, ord)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return pyValueRepr(v)
}
