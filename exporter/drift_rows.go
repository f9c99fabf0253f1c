package exporter

import (
	"bytes"
	"encoding/json"
)

// Request side of drift: every input row's feature values, in every request
// format the exporter recognises, are counted into the baseline's bins.
//
//	MLflow     {"dataframe_split": {"columns": [..], "data": [[..], ..]}}  (no columns: positional)
//	           {"dataframe_records": [{col: v, ..}, ..]}
//	           {"instances": [..rows..]}, {"inputs": [..rows..]}, a bare [..rows..]
//	           {"inputs": {col: [..values..], ..}}  (columnar; a scalar is one row)
//	           CSV (header row names the columns)
//	TF Serving {"instances": [..rows..]}, {"inputs": {col: [..]}} or {"inputs": [..rows..]}
//
// A row is an object (values by column name), a list (values by position in
// baseline.Columns, or in dataframe_split's columns) or a scalar (the first
// column). A value that is a one-element list counts as its element. Unknown columns are skipped without being looked at; a
// positional row is not scanned past its last baseline column.

// jsonValue counts the JSON value at b[v:end] in feature fi.
func (d *driftMetrics) jsonValue(s *driftScratch, fi int, b []byte, v, end int) {
	f := &d.feats[fi]
	raw := b[v:end]
	switch c := raw[0]; {
	case c == '"':
		str := raw[1 : len(raw)-1]
		if bytes.IndexByte(str, '\\') >= 0 { // rare: unescape (allocates)
			u, err := unquoteJSON(str)
			if err != nil {
				s.add(f.outOfRangeSlot())
				return
			}
			str = []byte(u)
		}
		d.text(s, fi, str)
	case c == '[':
		// A one-element list is its element (TF Serving inputs of shape
		// [batch, 1]: {"inputs": {"age": [[35], [42]]}}); longer lists are
		// not a value.
		if e, ee, ok := onlyElem(b, v); ok && b[e] != '[' && b[e] != '{' {
			d.jsonValue(s, fi, b, e, ee)
			return
		}
		s.add(f.outOfRangeSlot())
	case c == '{':
		s.add(f.outOfRangeSlot()) // not a scalar: never binned
	case string(raw) == "null" || string(raw) == "NaN":
		s.add(f.missingSlot())
	case f.numeric && (c == 't' || c == 'f'):
		s.add(f.outOfRangeSlot())
	default: // number, boolean, or a bare token such as Infinity
		d.text(s, fi, raw)
	}
}

// mark records that feature fi has a value in the current row; false when it
// already had one (a repeated key counts once).
func (s *driftScratch) mark(fi int) bool {
	if s.seen[fi] {
		return false
	}
	s.seen[fi] = true
	return true
}

// request counts the feature values of every row of a request body. Nothing
// is counted unless the whole body parsed.
func (d *driftMetrics) request(body []byte, csv bool) {
	s := d.begin()
	var ok bool
	if csv {
		ok = d.csvRows(s, body)
	} else {
		ok = d.jsonRows(s, body)
	}
	d.commit(s, ok)
}

func (d *driftMetrics) jsonRows(s *driftScratch, b []byte) bool {
	i := skipWS(b, 0)
	end := skipValue(b, i)
	if end < 0 || skipWS(b, end) != len(b) {
		return false
	}
	if b[i] == '[' {
		return d.rowList(s, b, i, d.pos)
	}
	if b[i] != '{' {
		return false
	}
	ok := false
	eachKey(b, i, func(key []byte, v int) bool {
		switch string(key) {
		case "dataframe_split":
			ok = d.split(s, b, v)
		case "dataframe_records", "instances":
			ok = d.rowList(s, b, v, d.pos)
		case "inputs":
			if t, one := d.soleTensor(b, v); one {
				ok = d.rowList(s, b, t, d.pos) // {"inputs": {"dense_input": [[...], ...]}}
			} else if v < len(b) && b[v] == '{' {
				ok = d.columnar(s, b, v)
			} else {
				ok = d.rowList(s, b, v, d.pos)
			}
		default:
			return true
		}
		return false
	})
	return ok
}

// rowList counts the rows of the list at i (objects, lists positional by
// cols, or scalars as the first column). Every value is scanned once: the
// row walkers return where their row ends.
func (d *driftMetrics) rowList(s *driftScratch, b []byte, i int, cols []colFeat) bool {
	if i >= len(b) || b[i] != '[' {
		return false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return true
	}
	for i < len(b) {
		var end int
		switch b[i] {
		case '{':
			end = d.rowObject(s, b, i)
		case '[':
			end = d.rowPositional(s, b, i, cols)
		default:
			end = skipValue(b, i)
			if end > i && len(cols) > 0 && cols[0].col == 0 && s.mark(cols[0].feat) {
				d.jsonValue(s, cols[0].feat, b, i, end)
			}
		}
		if end < 0 {
			return false
		}
		d.endRow(s)
		if i = listNext(b, end); i < 0 {
			return i == listEnd
		}
	}
	return false
}

// listEnd is listNext's answer at the closing bracket.
const listEnd = -2

// listNext moves past the separator after a list element ending at end: the
// next element's index, listEnd after ']', -1 when malformed.
func listNext(b []byte, end int) int {
	i := skipWS(b, end)
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case ',':
		return skipWS(b, i+1)
	case ']':
		return listEnd
	}
	return -1
}

// rowObject counts one row given as {column: value} and returns the index
// past it (-1 when malformed).
func (d *driftMetrics) rowObject(s *driftScratch, b []byte, i int) int {
	if t, one := d.soleTensor(b, i); one { // {"dense_input": [...]}
		if d.rowPositional(s, b, t, d.pos) < 0 {
			return -1
		}
		return skipValue(b, i)
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for i < len(b) && b[i] == '"' {
		kend := skipValue(b, i)
		if kend < 0 {
			return -1
		}
		key := b[i+1 : kend-1]
		i = skipWS(b, kend)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		v := skipWS(b, i+1)
		e := skipValue(b, v)
		if e < 0 {
			return -1
		}
		fi := d.lookup(key)
		if fi < 0 && bytes.IndexByte(key, '\\') >= 0 { // rare: escaped key
			if k, err := unquoteJSON(key); err == nil {
				fi = d.lookupString(k)
			}
		}
		if fi >= 0 && s.mark(fi) {
			d.jsonValue(s, fi, b, v, e)
		}
		i = skipWS(b, e)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case '}':
			return i + 1
		case ',':
			i = skipWS(b, i+1)
		default:
			return -1
		}
	}
	return -1
}

// soleTensor reports whether the object at i has a single member whose key
// is not a feature and whose value is a list, and returns the value's index:
// a Keras model's one named input tensor (TF Serving {"instances":
// [{"dense_input": [v1, v2, ...]}]} or {"inputs": {"dense_input": [[...]]}}),
// whose values are positional in the baseline's column order. In the common
// case (the first key is a feature) it costs one lookup.
func (d *driftMetrics) soleTensor(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '{' {
		return 0, false
	}
	k := skipWS(b, i+1)
	if k >= len(b) || b[k] != '"' {
		return 0, false
	}
	kend := skipValue(b, k)
	if kend < 0 || d.lookup(b[k+1:kend-1]) >= 0 {
		return 0, false
	}
	c := skipWS(b, kend)
	if c >= len(b) || b[c] != ':' {
		return 0, false
	}
	v := skipWS(b, c+1)
	if v >= len(b) || b[v] != '[' {
		return 0, false
	}
	e := skipValue(b, v)
	if e < 0 {
		return 0, false
	}
	if e = skipWS(b, e); e >= len(b) || b[e] != '}' {
		return 0, false
	}
	return v, true
}

// rowPositional counts one row given as a list, element cols[k].col being
// feature cols[k].feat (cols sorted by col), and returns the index past it
// (-1 when malformed). Elements past the last mapped column are only
// skipped.
func (d *driftMetrics) rowPositional(s *driftScratch, b []byte, i int, cols []colFeat) int {
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1
	}
	j, k := 0, 0
	for i < len(b) {
		e := skipValue(b, i)
		if e < 0 {
			return -1
		}
		if k < len(cols) && cols[k].col == j {
			if s.mark(cols[k].feat) {
				d.jsonValue(s, cols[k].feat, b, i, e)
			}
			k++
		}
		j++
		next := listNext(b, e)
		if next == listEnd {
			return skipWS(b, e) + 1
		}
		if next < 0 {
			return -1
		}
		i = next
	}
	return -1
}

// split counts a dataframe_split object: "columns" names the positions
// (baseline.Columns order without it), "data" holds the rows.
func (d *driftMetrics) split(s *driftScratch, b []byte, i int) bool {
	if i >= len(b) || b[i] != '{' {
		return false
	}
	data, hasCols := -1, false
	eachKey(b, i, func(key []byte, v int) bool {
		switch string(key) {
		case "columns":
			hasCols = true
			s.cols = s.cols[:0]
			j := 0
			if eachElem(b, v, func(c int) bool {
				if b[c] == '"' {
					if e := skipValue(b, c); e > c {
						if fi := d.lookup(b[c+1 : e-1]); fi >= 0 && s.mark(fi) {
							s.cols = append(s.cols, colFeat{j, fi})
						}
					}
				}
				j++
				return true
			}) < 0 {
				data = -2 // malformed columns: count nothing
			}
			clear(s.seen)
		case "data":
			if data != -2 {
				data = v
			}
			// pandas writes columns, index, data: with the columns known,
			// stop here rather than skip over the rows once more.
			return !hasCols
		}
		return data != -2
	})
	if data < 0 {
		return false
	}
	cols := d.pos
	if hasCols {
		cols = s.cols
	}
	return d.rowList(s, b, data, cols)
}

// columnar counts {"inputs": {column: [values..]}}: value r of a column is
// row r's. Rows = the longest column; a feature absent from the object, or
// with a shorter list, is missing in the rows it lacks.
func (d *driftMetrics) columnar(s *driftScratch, b []byte, i int) bool {
	rows := 0
	ok := true
	eachKey(b, i, func(_ []byte, v int) bool {
		n := 1 // a scalar is one row
		if v < len(b) && b[v] == '[' {
			if n, _ = countArray(b, v); n < 0 {
				ok = false
				return false
			}
		}
		rows = max(rows, n)
		return true
	})
	if !ok {
		return false
	}
	eachKey(b, i, func(key []byte, v int) bool {
		fi := d.lookup(key)
		if fi < 0 || !s.mark(fi) {
			return true
		}
		n := 0
		if v < len(b) && b[v] == '[' {
			eachElem(b, v, func(e int) bool {
				if end := skipValue(b, e); end > e {
					d.jsonValue(s, fi, b, e, end)
					n++
				}
				return true
			})
		} else if end := skipValue(b, v); end > v {
			d.jsonValue(s, fi, b, v, end)
			n++
		}
		for ; n < rows; n++ {
			s.add(d.feats[fi].missingSlot())
		}
		return true
	})
	for fi := range s.seen {
		if !s.seen[fi] {
			for r := 0; r < rows; r++ {
				s.add(d.feats[fi].missingSlot())
			}
		}
		s.seen[fi] = false
	}
	s.rows += rows
	return true
}

// unquoteJSON decodes the content of a JSON string that holds escapes.
func unquoteJSON(inner []byte) (string, error) {
	q := make([]byte, 0, len(inner)+2)
	q = append(append(append(q, '"'), inner...), '"')
	var u string
	err := json.Unmarshal(q, &u)
	return u, err
}

// onlyElem returns the extent of the single element of the list at v, ok
// false when the list does not hold exactly one element.
func onlyElem(b []byte, v int) (start, end int, ok bool) {
	n := 0
	eachElem(b, v, func(e int) bool {
		start = e
		n++
		return n < 2
	})
	if n != 1 {
		return 0, 0, false
	}
	end = skipValue(b, start)
	return start, end, end > start
}
