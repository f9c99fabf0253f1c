package model

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
)

// numpy's printing of float64 arrays (np.array2string with its default
// options: precision 8, floatmode "maxprec", linewidth 75, threshold 1000,
// edgeitems 3), for the data MLflow prints in messages about "instances"
// and "inputs". Checked against numpy 1.24 (unchanged in 2.x).

const (
	npPrecision = 8
	npLineWidth = 75
	npThreshold = 1000
	npEdgeItems = 3
)

// npFloatFormatter formats the elements of one array with a common layout.
type npFloatFormatter struct {
	exp               bool
	padLeft, padRight int
	precision         int // exp: mantissa digits
	expSize           int
}

// newNPFloatFormatter is numpy's FloatingFormat.fillFormat.
func newNPFloatFormatter(data []float64) *npFloatFormatter {
	f := &npFloatFormatter{}
	var finite []float64
	minV, maxV := math.Inf(1), 0.0
	for _, v := range data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		finite = append(finite, v)
		if a := math.Abs(v); a != 0 {
			minV, maxV = min(minV, a), max(maxV, a)
		}
	}
	if maxV > 0 && (maxV >= 1e8 || minV < 0.0001 || maxV/minV > 1000) {
		f.exp = true
	}
	switch {
	case len(finite) == 0:
	case f.exp:
		for _, v := range finite {
			mant, exp := npScientific(v)
			ip, fp, _ := strings.Cut(mant, ".")
			f.padLeft = max(f.padLeft, len(ip))
			f.precision = max(f.precision, len(fp))
			f.expSize = max(f.expSize, len(exp)-1)
		}
		f.padRight = f.expSize + 2 + f.precision
	default:
		for _, v := range finite {
			ip, fp, _ := strings.Cut(npPositional(v), ".")
			f.padLeft = max(f.padLeft, len(ip))
			f.padRight = max(f.padRight, len(fp))
		}
	}
	if len(finite) != len(data) {
		inf := 3
		for _, v := range data {
			if math.IsInf(v, -1) {
				inf = 4
			}
		}
		off := f.padRight + 1
		f.padLeft = max(f.padLeft, 3-off, inf-off)
	}
	return f
}

// npPositional is dragon4_positional(unique, precision 8, trim "."): the
// shortest digits, at most 8 after the point, "1." for integers.
func npPositional(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if i := strings.IndexByte(s, '.'); i >= 0 && len(s)-i-1 > npPrecision {
		s = strings.TrimRight(strconv.FormatFloat(v, 'f', npPrecision, 64), "0")
	}
	if !strings.Contains(s, ".") {
		s += "."
	}
	return s
}

// npScientific is dragon4_scientific(unique, precision 8, trim "."): the
// mantissa ("3.707", "1.") and the exponent ("+01").
func npScientific(v float64) (mant, exp string) {
	s := strconv.FormatFloat(v, 'e', -1, 64)
	m, e, _ := strings.Cut(s, "e")
	if i := strings.IndexByte(m, '.'); i >= 0 && len(m)-i-1 > npPrecision {
		s = strconv.FormatFloat(v, 'e', npPrecision, 64)
		m, e, _ = strings.Cut(s, "e")
		m = strings.TrimRight(m, "0")
	}
	if !strings.Contains(m, ".") {
		m += "."
	}
	return m, e
}

// format is FloatingFormat.__call__ for one element.
func (f *npFloatFormatter) format(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		r := "nan"
		if math.IsInf(v, 1) {
			r = "inf"
		} else if math.IsInf(v, -1) {
			r = "-inf"
		}
		return strings.Repeat(" ", max(0, f.padLeft+f.padRight+1-len(r))) + r
	}
	if f.exp {
		mant, exp := npScientific(v)
		ip, fp, _ := strings.Cut(mant, ".")
		fp += strings.Repeat("0", f.precision-len(fp))
		sign, digits := exp[:1], exp[1:]
		digits = strings.Repeat("0", max(0, f.expSize-len(digits))) + digits
		return strings.Repeat(" ", max(0, f.padLeft-len(ip))) + ip + "." + fp + "e" + sign + digits
	}
	ip, fp, _ := strings.Cut(npPositional(v), ".")
	return strings.Repeat(" ", max(0, f.padLeft-len(ip))) + ip + "." + fp + strings.Repeat(" ", max(0, f.padRight-len(fp)))
}

// npStr is str(a) of a float64 ndarray; npRepr is repr(a) ("array([...])").
func npStr(a ndarray) string { return npArray2String(a, " ", "", "") }

func npRepr(a ndarray) string {
	if len(a.shape) > 0 && a.shape[0] == 0 {
		return "array([], dtype=float64)"
	}
	return npArray2String(a, ", ", "array(", ")")
}

// npArray2String is np.array2string with numpy's _formatArray.
func npArray2String(a ndarray, sep, prefix, suffix string) string {
	if len(a.shape) == 0 {
		return prefix + newNPFloatFormatter(a.flat).format(a.flat[0]) + suffix
	}
	size := 1
	for _, d := range a.shape {
		size *= d
	}
	summary := size > npThreshold
	f := newNPFloatFormatter(summarised(a, summary))
	width := npLineWidth - len(suffix)
	nextPrefix := " " + strings.Repeat(" ", len(prefix))
	var rec func(off, axis int, hanging string, currWidth int) string
	rec = func(off, axis int, hanging string, currWidth int) string {
		stride := 1
		for _, d := range a.shape[axis+1:] {
			stride *= d
		}
		n := a.shape[axis]
		lead, trail := 0, n
		show := summary && 2*npEdgeItems < n
		if show {
			lead, trail = npEdgeItems, npEdgeItems
		}
		nextHanging := hanging + " "
		nextWidth := currWidth - 1
		var s string
		if axis == len(a.shape)-1 {
			elemWidth := currWidth - max(len(strings.TrimRight(sep, " ")), 1)
			line := hanging
			add := func(word string, w int) {
				if len(line)+len(word) > w && len(line) > len(hanging) {
					s += strings.TrimRight(line, " ") + "\n"
					line = hanging
				}
				line += word
			}
			for i := range lead {
				add(f.format(a.flat[off+i*stride]), elemWidth)
				line += sep
			}
			if show {
				add("...", elemWidth)
				line += sep
			}
			for i := trail; i > 1; i-- {
				add(f.format(a.flat[off+(n-i)*stride]), elemWidth)
				line += sep
			}
			if n > 0 {
				add(f.format(a.flat[off+(n-1)*stride]), elemWidth)
			}
			s += line
		} else {
			lineSep := strings.TrimRight(sep, " ") + strings.Repeat("\n", len(a.shape)-axis-1)
			for i := range lead {
				s += hanging + rec(off+i*stride, axis+1, nextHanging, nextWidth) + lineSep
			}
			if show {
				s += hanging + "..." + lineSep
			}
			for i := trail; i > 1; i-- {
				s += hanging + rec(off+(n-i)*stride, axis+1, nextHanging, nextWidth) + lineSep
			}
			if n > 0 {
				s += hanging + rec(off+(n-1)*stride, axis+1, nextHanging, nextWidth)
			}
		}
		return "[" + s[len(hanging):] + "]"
	}
	return prefix + rec(0, 0, nextPrefix, width) + suffix
}

// summarised is the elements numpy looks at to choose the layout: all of
// them, or only the edge items of each axis when the array is summarised.
func summarised(a ndarray, summary bool) []float64 {
	if !summary {
		return a.flat
	}
	var out []float64
	var walk func(off, axis int)
	walk = func(off, axis int) {
		stride := 1
		for _, d := range a.shape[axis+1:] {
			stride *= d
		}
		n := a.shape[axis]
		idx := make([]int, 0, n)
		if 2*npEdgeItems < n {
			for i := range npEdgeItems {
				idx = append(idx, i)
			}
			for i := n - npEdgeItems; i < n; i++ {
				idx = append(idx, i)
			}
		} else {
			for i := range n {
				idx = append(idx, i)
			}
		}
		for _, i := range idx {
			if axis == len(a.shape)-1 {
				out = append(out, a.flat[off+i])
			} else {
				walk(off+i*stride, axis+1)
			}
		}
	}
	walk(0, 0)
	return out
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
