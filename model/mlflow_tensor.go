package model

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// This file follows MLflow's handling of the TF Serving-style keys of
// POST /invocations ("instances", "inputs"): values are converted to numpy
// arrays per column (_cast_schema_type, parse_instances_data), then turned
// into a DataFrame and checked against the signature (_enforce_schema).

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
