package model

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Pandas' display defaults in a plain Python process, as a scoring server
// is: terminal width 80 (no terminal attached), display.max_rows,
// display.min_rows; display.max_columns is 0 (fit the width).
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
// their first and last 5, frames wider than 80 characters cut to their
// first and last columns around " ...". Scientific notation for very large
// or small floats is not reproduced. Checked against pandas 1.5.3.
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
		strcols[j] = col
		widths[j] = maxLen(col)
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
	if cut {
		// the cut rows: "..." in columns wider than 3, ".." in others
		dots := func(w int) string {
			if w > 3 {
				return "..."
			}
			return ".."
		}
		for j, col := range strcols {
			d := dots(widths[j])
			strcols[j] = insertAt(col, 1+pdMinRows/2, strings.Repeat(" ", widths[j]-len(d))+d)
		}
		d := dots(idxWidth)
		idx = insertAt(idx, 1+pdMinRows/2, d+strings.Repeat(" ", idxWidth-len(d)))
	}
	// Too wide: keep the first and last columns around a " ..." column
	// (pandas' _fit_strcols_to_terminal_width).
	keep := fitColumns(idxWidth, widths)
	cutCols := keep < len(strcols)
	if cutCols {
		dots := make([]string, len(idx))
		for i := range dots {
			dots[i] = " ..."
		}
		half := keep / 2
		kept := append([][]string{}, strcols[:half]...)
		kept = append(kept, dots)
		strcols = append(kept, strcols[len(strcols)-half:]...)
	}
	lines := make([]string, len(idx))
	for i := range idx {
		parts := []string{idx[i]}
		for _, col := range strcols {
			parts = append(parts, col[i])
		}
		lines[i] = strings.Join(parts, " ")
	}
	out := strings.Join(lines, "\n")
	if cut || cutCols {
		out += "\n\n[" + strconv.Itoa(f.n) + " rows x " + strconv.Itoa(len(f.cols)) + " columns]"
	}
	return out
}

// fitColumns is how many value columns pandas keeps in a line of
// pdLineWidth: it drops middle columns until the line fits, then keeps
// at least 2; more than that is all of them.
func fitColumns(idxWidth int, widths []int) int {
	lineLen := idxWidth
	for _, w := range widths {
		lineLen += 1 + w
	}
	adjDif := lineLen - pdLineWidth + 1
	lens := append([]int{idxWidth}, widths...) // the index counts as a column here
	for adjDif > 0 && len(lens) > 1 {
		mid := pyRoundHalf(len(lens))
		adjDif -= lens[mid] + 1
		lens = append(lens[:mid], lens[mid+1:]...)
	}
	fitted := max(len(lens)-1, 2)
	if fitted >= len(widths) {
		return len(widths)
	}
	return fitted - fitted%2 // pandas keeps fitted/2 on each side
}

// pyRoundHalf is Python's round(n / 2): halves round to the even neighbour.
func pyRoundHalf(n int) int {
	h := n / 2
	if n%2 == 1 && h%2 == 1 {
		h++
	}
	return h
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
			v := c.floatAt(r)
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
		// scientific notation when values would show as 0 or take too much room
		large, small, maxLen := false, false, 0
		for i, r := range rows {
			v := math.Abs(c.floatAt(r))
			large = large || v > 1e6
			small = small || v > 0 && v < 1e-6
			maxLen = max(maxLen, len(out[i]))
		}
		if small || large && maxLen > 12 {
			for i, r := range rows {
				if v := c.floatAt(r); !math.IsNaN(v) && !math.IsInf(v, 0) {
					out[i] = strconv.FormatFloat(v, 'e', 6, 64)
					if v >= 0 {
						out[i] = " " + out[i]
					}
				}
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

// floatAt is row r of a float column (NaN for None).
func (c *column) floatAt(r int) float64 {
	switch {
	case c.vals != nil:
		return c.vals[r]
	}
	v, _ := toFloat(c.cells[r]) // a number or None in a float column
	return v
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
