package model

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Pandas' display defaults when not attached to a terminal, as in a
// scoring server: display.width, display.max_rows, display.min_rows.
const (
	pdLineWidth = 80
	pdMaxRows   = 60
	pdMinRows   = 10
)

// repr renders the frame as pandas' DataFrame.__repr__ does with its
// default options: a left-justified RangeIndex, columns right-justified
// with one space between them and a leading space before every value (and
// before the names of numeric columns), floats with a common number of
// decimals (at most 6, trailing zeros trimmed), frames over 60 rows cut to
// their first and last 5, and columns wrapped into blocks of at most 80
// characters joined by " \". Scientific notation for very large or small
// floats and cutting frames over 20 columns are not reproduced.
func (f *frame) repr() string {
	if f.n == 0 {
		names := make([]string, len(f.cols))
		for i, c := range f.cols {
			names[i] = c.label()
		}
		return "Empty DataFrame\nColumns: [" + strings.Join(names, ", ") + "]\nIndex: []"
	}
	rows := make([]int, 0, f.n)
	cut := f.n > pdMaxRows
	if cut {
		for i := range pdMinRows / 2 {
			rows = append(rows, i)
		}
		for i := f.n - pdMinRows/2; i < f.n; i++ {
			rows = append(rows, i)
		}
	} else {
		for i := range f.n {
			rows = append(rows, i)
		}
	}
	// the index column, left-justified
	idx := []string{""}
	for _, r := range rows {
		if f.index != nil {
			idx = append(idx, f.index[r])
		} else {
			idx = append(idx, strconv.Itoa(r))
		}
	}
	// the value columns, header first, right-justified
	strcols := make([][]string, len(f.cols))
	widths := make([]int, len(f.cols))
	for j, c := range f.cols {
		kind := c.kind()
		head := c.label()
		if kind != "object" {
			head = " " + head
		}
		col := append([]string{head}, c.cellStrings(rows, kind)...)
		if cut {
			col = insertAt(col, 1+pdMinRows/2, "...")
		}
		strcols[j] = col
		widths[j] = maxLen(col)
	}
	if cut {
		idx = insertAt(idx, 1+pdMinRows/2, "..")
	}
	for j, col := range strcols {
		for i, s := range col {
			col[i] = strings.Repeat(" ", widths[j]-runeLen(s)) + s
		}
	}
	idxWidth := maxLen(idx)
	for i, s := range idx {
		idx[i] = s + strings.Repeat(" ", idxWidth-runeLen(s))
	}
	// wrap into blocks that fit the line width (pandas' _join_multiline)
	bins := binify(widths, pdLineWidth-idxWidth-1)
	blocks := make([]string, 0, len(bins))
	start := 0
	for b, end := range bins {
		lines := make([]string, len(idx))
		for i := range idx {
			parts := []string{idx[i]}
			for _, col := range strcols[start:end] {
				parts = append(parts, col[i])
			}
			if len(bins) > 1 {
				switch {
				case b < len(bins)-1 && i == 0:
					parts = append(parts, " \\")
				case b < len(bins)-1:
					parts = append(parts, "  ")
				default:
					parts = append(parts, " ")
				}
			}
			lines[i] = strings.Join(parts, " ")
		}
		blocks = append(blocks, strings.Join(lines, "\n"))
		start = end
	}
	out := strings.Join(blocks, "\n\n")
	if cut {
		out += "\n\n[" + strconv.Itoa(f.n) + " rows x " + strconv.Itoa(len(f.cols)) + " columns]"
	}
	return out
}

// binify splits columns of the given widths into blocks that fit
// lineWidth, as pandas' _binify does; it returns each block's end.
func binify(widths []int, lineWidth int) []int {
	var bins []int
	curr := 0
	for i, w := range widths {
		curr += w + 1
		limit := curr + 2
		if i == len(widths)-1 {
			limit = curr + 1
		}
		if limit > lineWidth && i > 0 {
			bins = append(bins, i)
			curr = w + 1
		}
	}
	return append(bins, len(widths))
}

// kind is the pandas dtype family of the column: float, int, bool or object.
func (c *column) kind() string {
	switch {
	case c.object:
		return "object"
	case c.vals != nil:
		return "float"
	}
	ints, floats, nulls, bools := 0, 0, 0, 0
	for _, cell := range c.cells {
		switch x := cell.(type) {
		case nil:
			nulls++
		case bool:
			bools++
		case json.Number:
			if isIntLiteral(string(x)) {
				ints++
			} else {
				floats++
			}
		}
	}
	n := len(c.cells)
	switch {
	case n > 0 && ints == n:
		return "int"
	case n > 0 && bools == n:
		return "bool"
	case ints+floats > 0 && ints+floats+nulls == n:
		return "float"
	}
	return "object"
}

// cellStrings formats the given rows of the column as pandas prints a
// column of that kind, with the leading space pandas gives every value
// (a minus sign takes its place for negative numbers).
func (c *column) cellStrings(rows []int, kind string) []string {
	out := make([]string, len(rows))
	if kind == "float" {
		for i, r := range rows {
			v := math.NaN()
			switch {
			case c.vals != nil:
				v = c.vals[r]
			case c.cells[r] != nil:
				v, _ = strconv.ParseFloat(string(c.cells[r].(json.Number)), 64)
			}
			switch {
			case math.IsNaN(v):
				out[i] = "NaN"
			case math.IsInf(v, 1):
				out[i] = "inf"
			case math.IsInf(v, -1):
				out[i] = "-inf"
			default:
				out[i] = strconv.FormatFloat(v, 'f', 6, 64)
			}
		}
		for canTrim(out) {
			for i, s := range out {
				if strings.IndexByte(s, '.') >= 0 {
					out[i] = s[:len(s)-1]
				}
			}
		}
		for i, s := range out {
			if !strings.HasPrefix(s, "-") {
				out[i] = " " + s
			}
		}
		return out
	}
	for i, r := range rows {
		var s string
		if r < len(c.cells) {
			switch x := c.cells[r].(type) {
			case nil:
				s = "None"
			case string:
				s = x
			case ndarray:
				s = pyValueRepr(floatsAny(x.flat))
			default:
				s = pyValueRepr(x)
			}
		}
		if !strings.HasPrefix(s, "-") || kind == "object" {
			s = " " + s
		}
		out[i] = s
	}
	return out
}

// canTrim reports whether every decimal number in out has more than one
// decimal and ends in 0 (NaN and inf do not count).
func canTrim(out []string) bool {
	found := false
	for _, s := range out {
		dot := strings.IndexByte(s, '.')
		if dot < 0 {
			continue
		}
		if len(s)-dot <= 2 || s[len(s)-1] != '0' {
			return false
		}
		found = true
	}
	return found
}

func insertAt(s []string, i int, v string) []string {
	return append(s[:i], append([]string{v}, s[i:]...)...)
}

func runeLen(s string) int { return len([]rune(s)) }

func maxLen(col []string) int {
	w := 0
	for _, s := range col {
		w = max(w, runeLen(s))
	}
	return w
}

func floatsAny(fs []float64) any {
	out := make([]any, len(fs))
	for i, f := range fs {
		out[i] = floatRepr(f)
	}
	return out
}

// floatRepr prints as Python's repr() of a float (through pyValueRepr's fmt.Sprint).
type floatRepr float64

func (f floatRepr) String() string { return pyFloatRepr(float64(f)) }
