package exporter

import (
	"bytes"
	"strconv"
)

// This file holds a tiny allocation-free JSON scanner: the proxy only needs
// to count the rows of a request and to walk the predictions of an answer,
// so it never builds values. Malformed input simply yields "unknown" (-1 rows,
// no predictions); the upstream is the one that reports bad requests.

// countRows returns the number of input rows in an inference request body, or
// -1 when the format is not recognised. JSON bodies: dataframe_split.data,
// dataframe_records, instances or inputs (a list, or the first column of a
// columnar object), or a bare top-level list. CSV bodies (csv true): lines
// after the header, blank lines ignored.
func countRows(body []byte, csv bool) int {
	if csv {
		return countCSVRows(body)
	}
	i := skipWS(body, 0)
	if i >= len(body) {
		return -1
	}
	switch body[i] {
	case '[':
		n, _ := countArray(body, i)
		return n
	case '{':
	default:
		return -1
	}
	rows := -1
	eachKey(body, i, func(key []byte, v int) bool {
		switch string(key) {
		case "dataframe_split":
			if v < len(body) && body[v] == '{' {
				eachKey(body, v, func(k2 []byte, v2 int) bool {
					if string(k2) == "data" {
						rows, _ = countArray(body, v2)
						return false
					}
					return true
				})
			}
			return false
		case "dataframe_records", "instances", "inputs":
			if v >= len(body) {
				return false
			}
			switch body[v] {
			case '[':
				rows, _ = countArray(body, v)
			case '{': // columnar: {"inputs": {"col": [..rows..], ...}}
				rows = 1
				eachKey(body, v, func(_ []byte, v2 int) bool {
					if v2 < len(body) && body[v2] == '[' {
						rows, _ = countArray(body, v2)
					}
					return false
				})
			default:
				rows = 1
			}
			return false
		}
		return true
	})
	return rows
}

func countCSVRows(body []byte) int {
	lines := 0
	for len(body) > 0 {
		var line []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			line, body = body, nil
		}
		if len(bytes.TrimSpace(line)) > 0 {
			lines++
		}
	}
	if lines == 0 {
		return 0
	}
	return lines - 1 // header
}

// eachPrediction calls fn with the raw bytes of every scalar prediction in an
// inference answer: {"predictions": [...]}, {"outputs": [...]} or a bare list.
// Strings are passed without quotes (escaped is true when they still contain
// JSON escapes), numbers and booleans as written. A single-element list
// ([[0.7]]-style output) counts as its element; objects, longer lists and
// null are skipped.
func eachPrediction(body []byte, fn func(raw []byte, str, escaped bool)) {
	i := skipWS(body, 0)
	if i >= len(body) {
		return
	}
	switch body[i] {
	case '[':
		walkPredictions(body, i, fn)
	case '{':
		eachKey(body, i, func(key []byte, v int) bool {
			if string(key) == "predictions" || string(key) == "outputs" {
				if v < len(body) && body[v] == '[' {
					walkPredictions(body, v, fn)
				}
				return false
			}
			return true
		})
	}
}

func walkPredictions(b []byte, i int, fn func(raw []byte, str, escaped bool)) {
	eachElem(b, i, func(v int) bool {
		if v < len(b) && b[v] == '[' { // unwrap [x]
			var only, n int
			eachElem(b, v, func(e int) bool {
				only = e
				n++
				return n < 2
			})
			if n != 1 {
				return true
			}
			v = only
		}
		end := skipValue(b, v)
		if end < 0 {
			return false
		}
		switch c := b[v]; {
		case c == '"':
			s := b[v+1 : end-1]
			fn(s, true, bytes.IndexByte(s, '\\') >= 0)
		case c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f':
			fn(b[v:end], false, false)
		}
		return true
	})
}

// classLabel turns a raw prediction into its label value: strings unquoted,
// integers as written, other numbers formatted with strconv 'g' (integral
// floats such as 1.0 become "1").
func classLabel(raw []byte, str, escaped bool) string {
	if str {
		if !escaped {
			return string(raw)
		}
		s, err := strconv.Unquote(`"` + string(raw) + `"`)
		if err != nil {
			return string(raw)
		}
		return s
	}
	if raw[0] == 't' || raw[0] == 'f' {
		return string(raw)
	}
	if isPlainInt(raw) {
		return string(raw)
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return string(raw)
	}
	if f == float64(int64(f)) && f > -1e15 && f < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// isPlainInt reports whether raw is an integer in canonical form (no leading
// zeros, no "-0"), so it is already its own label.
func isPlainInt(raw []byte) bool {
	d := raw
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || len(d) > 15 || (d[0] == '0' && (len(d) > 1 || len(raw) > 1)) {
		return false
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// --- scanner primitives; every index is a position in b, -1 means malformed.

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipValue returns the index just past the JSON value starting at i.
func skipValue(b []byte, i int) int {
	if i < 0 || i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
		return -1
	case c == '{' || c == '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipValue(b, j)
				if j < 0 {
					return -1
				}
				j--
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	default: // number, true, false, null
		j := i
		for j < len(b) {
			switch b[j] {
			case ',', ']', '}', ' ', '\t', '\n', '\r':
				if j == i {
					return -1
				}
				return j
			}
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

// eachElem calls fn with the start index of each element of the array at i
// until fn returns false. It returns the index past the array or -1.
func eachElem(b []byte, i int, fn func(v int) bool) int {
	if i >= len(b) || b[i] != '[' {
		return -1
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1
	}
	for i < len(b) {
		if !fn(i) {
			return -1
		}
		i = skipValue(b, i)
		if i < 0 {
			return -1
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case ']':
			return i + 1
		default:
			return -1
		}
	}
	return -1
}

// countArray returns the number of elements of the array at i (-1 when
// malformed) and the index past it.
func countArray(b []byte, i int) (int, int) {
	n := 0
	end := eachElem(b, i, func(int) bool { n++; return true })
	if end < 0 {
		return -1, -1
	}
	return n, end
}

// eachKey calls fn with each key (raw, without quotes) of the object at i and
// the start index of its value, until fn returns false.
func eachKey(b []byte, i int, fn func(key []byte, v int) bool) {
	if i >= len(b) || b[i] != '{' {
		return
	}
	i = skipWS(b, i+1)
	for i < len(b) && b[i] == '"' {
		end := skipValue(b, i)
		if end < 0 {
			return
		}
		key := b[i+1 : end-1]
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return
		}
		v := skipWS(b, i+1)
		if !fn(key, v) {
			return
		}
		i = skipValue(b, v)
		if i < 0 {
			return
		}
		i = skipWS(b, i)
		if i >= len(b) || b[i] != ',' {
			return
		}
		i = skipWS(b, i+1)
	}
}
