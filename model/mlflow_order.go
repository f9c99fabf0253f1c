package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
)

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
