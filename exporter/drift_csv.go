package exporter

import (
	"bytes"
)

// CSV request bodies (MLflow reads them with pandas.read_csv): the first
// record names the columns, every further non-blank record is a row. Fields
// follow RFC 4180 (quoted fields may hold commas, newlines and "" escapes).
// An empty field, or one of pandas' default NA spellings, is missing. This
// hand-written scanner exists because encoding/csv allocates every record
// (BenchmarkDriftRequest measures the difference); it yields slices of the
// body and never copies, except to unescape a quoted field holding "".

// csvNA are pandas.read_csv's default missing-value spellings.
var csvNA = []string{
	"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
	"<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
}

func isCSVNA(v []byte) bool {
	for _, na := range csvNA {
		if string(v) == na {
			return true
		}
	}
	return false
}

// csvField scans the field at i: its content (quotes removed), whether it
// still holds "" escapes, the index after it (past its separator), whether
// it ended the record, and ok false on an unterminated quote.
func csvField(b []byte, i int) (field []byte, escaped bool, next int, eol, ok bool) {
	if i < len(b) && b[i] == '"' {
		j := i + 1
		for {
			k := bytes.IndexByte(b[j:], '"')
			if k < 0 {
				return nil, false, len(b), true, false
			}
			j += k
			if j+1 < len(b) && b[j+1] == '"' {
				escaped = true
				j += 2
				continue
			}
			break
		}
		field = b[i+1 : j]
		i = j + 1
		// Anything between the closing quote and the separator is kept out.
		for i < len(b) && b[i] != ',' && b[i] != '\n' {
			i++
		}
	} else {
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '\n' {
			j++
		}
		field = bytes.TrimRight(b[i:j], "\r")
		i = j
	}
	if i >= len(b) {
		return field, escaped, len(b), true, true
	}
	return field, escaped, i + 1, b[i] == '\n', true
}

// csvRows counts a CSV body. Nothing is counted on an unterminated quote.
func (d *driftMetrics) csvRows(s *driftScratch, b []byte) bool {
	i := 0
	// Header: skip blank lines, then map column positions to features.
	for i < len(b) && (b[i] == '\n' || b[i] == '\r') {
		i++
	}
	if i >= len(b) {
		return true // empty body: no rows
	}
	for j := 0; ; j++ {
		f, esc, next, eol, ok := csvField(b, i)
		if !ok {
			return false
		}
		if esc {
			f = bytes.ReplaceAll(f, []byte(`""`), []byte(`"`)) // rare
		}
		if fi := d.lookup(bytes.TrimSpace(f)); fi >= 0 && s.mark(fi) {
			s.cols = append(s.cols, colFeat{j, fi})
		}
		i = next
		if eol {
			break
		}
	}
	clear(s.seen)
	for i < len(b) {
		if b[i] == '\n' || (b[i] == '\r' && (i+1 == len(b) || b[i+1] == '\n')) {
			i++ // blank line
			continue
		}
		k := 0
		for j := 0; ; j++ {
			f, esc, next, eol, ok := csvField(b, i)
			if !ok {
				return false
			}
			if k < len(s.cols) && s.cols[k].col == j {
				fi := s.cols[k].feat
				if s.mark(fi) {
					d.csvValue(s, fi, f, esc)
				}
				k++
			}
			i = next
			if eol {
				break
			}
		}
		d.endRow(s)
	}
	return true
}

// csvValue counts one CSV field in feature fi.
func (d *driftMetrics) csvValue(s *driftScratch, fi int, f []byte, escaped bool) {
	if escaped {
		f = bytes.ReplaceAll(f, []byte(`""`), []byte(`"`)) // rare
	}
	if d.feats[fi].numeric {
		f = bytes.TrimSpace(f)
	}
	if isCSVNA(f) {
		s.add(d.feats[fi].missingSlot())
		return
	}
	d.text(s, fi, f)
}
