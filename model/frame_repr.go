package model

import (
	"math"
	"strconv"
	"strings"
)

// repr renders the frame like pandas' DataFrame repr, simplified: the index
// and the columns right-aligned, float columns with a common number of
// decimals (at most 6), long frames cut to their first and last 5 rows.
// pandas also wraps wide frames at 80 characters; this does not.
func (f *frame) repr() string {
	if len(f.cols) == 0 {
		if f.n == 0 {
			return "Empty DataFrame\nColumns: []\nIndex: []"
		}
	}
	if f.n == 0 {
		names := make([]string, len(f.cols))
		for i, c := range f.cols {
			names[i] = c.label()
		}
		return "Empty DataFrame\nColumns: [" + strings.Join(names, ", ") + "]\nIndex: []"
	}
	rows := make([]int, 0, f.n)
	cut := f.n > 60
	if cut {
		for i := range 5 {
			rows = append(rows, i)
		}
		for i := f.n - 5; i < f.n; i++ {
			rows = append(rows, i)
		}
	} else {
		for i := range f.n {
			rows = append(rows, i)
		}
	}
	table := make([][]string, len(f.cols)+1) // index column first
	table[0] = append(table[0], "")
	for _, r := range rows {
		table[0] = append(table[0], strconv.Itoa(r))
	}
	for j, c := range f.cols {
		col := []string{c.label()}
		col = append(col, c.cellStrings(rows)...)
		table[j+1] = col
	}
	if cut {
		for j := range table {
			col := append([]string{}, table[j][:6]...)
			col = append(col, "...")
			table[j] = append(col, table[j][6:]...)
		}
		table[0][6] = ".."
	}
	widths := make([]int, len(table))
	for j, col := range table {
		for _, s := range col {
			widths[j] = max(widths[j], len([]rune(s)))
		}
	}
	var b strings.Builder
	for i := range table[0] {
		if i > 0 {
			b.WriteByte('\n')
		}
		for j, col := range table {
			if j > 0 {
				b.WriteString("  ")
			}
			pad := widths[j] - len([]rune(col[i]))
			if j == 0 {
				b.WriteString(col[i] + strings.Repeat(" ", pad)) // the index is left-aligned
			} else {
				b.WriteString(strings.Repeat(" ", pad) + col[i])
			}
		}
	}
	if cut {
		b.WriteString("\n\n[" + strconv.Itoa(f.n) + " rows x " + strconv.Itoa(len(f.cols)) + " columns]")
	}
	return b.String()
}

// cellStrings formats the given rows of the column as pandas prints them.
func (c *column) cellStrings(rows []int) []string {
	out := make([]string, len(rows))
	if c.vals != nil && !c.object {
		// float64: fixed decimals, trailing zeros trimmed together, at least one.
		for i, r := range rows {
			v := c.vals[r]
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
		return out
	}
	for i, r := range rows {
		if r >= len(c.cells) {
			out[i] = "NaN"
			continue
		}
		switch x := c.cells[r].(type) {
		case nil:
			out[i] = "None"
		case string:
			out[i] = x
		case ndarray:
			out[i] = pyValueRepr(floatsAny(x.flat))
		default:
			out[i] = pyValueRepr(x)
		}
	}
	return out
}

// canTrim reports whether every decimal number in out has more than one
// decimal and ends in 0 (NaN and inf do not count).
func canTrim(out []string) bool {
	any := false
	for _, s := range out {
		dot := strings.IndexByte(s, '.')
		if dot < 0 {
			continue
		}
		if len(s)-dot <= 2 || s[len(s)-1] != '0' {
			return false
		}
		any = true
	}
	return any
}

func floatsAny(fs []float64) any {
	out := make([]any, len(fs))
	for i, f := range fs {
		out[i] = pyFloatNumber(f)
	}
	return out
}

// pyFloatNumber makes a json.Number-like value that pyValueRepr prints as a float.
func pyFloatNumber(f float64) any { return floatRepr(f) }

type floatRepr float64

func (f floatRepr) String() string { return pyFloatRepr(float64(f)) }
