package model

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

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
