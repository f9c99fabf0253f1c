package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file holds the small pieces of Python behaviour the MLflow scoring
// protocol shows through its answers: float() of a string, repr() of
// strings, lists and types, and json's decode error text. They are written
// here because the messages MLflow sends are made of them; no library
// renders Python reprs in Go.

// pyFloatString converts s as Python's float(str) does: surrounding
// whitespace is ignored, underscores may separate digits, "inf",
// "infinity" and "nan" (any case, optional sign) are accepted, hexadecimal
// is not. ok is false where Python raises ValueError.
func pyFloatString(s string) (v float64, ok bool) {
	t := strings.TrimFunc(s, unicode.IsSpace)
	if t == "" {
		return 0, false
	}
	body := strings.TrimLeft(t, "+-")
	if len(t)-len(body) > 1 {
		return 0, false
	}
	switch strings.ToLower(body) {
	case "inf", "infinity":
		if t[0] == '-' {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	case "nan":
		return math.NaN(), true
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c >= '0' && c <= '9', c == '.', c == 'e', c == 'E', c == '+', c == '-':
			b.WriteByte(c)
		case c == '_':
			// only between two digits
			if i == 0 || i == len(body)-1 || !isDigit(body[i-1]) || !isDigit(body[i+1]) {
				return 0, false
			}
		default:
			return 0, false // letters (hex, "Inf" inside), other signs
		}
	}
	num := b.String()
	if t[0] == '-' {
		num = "-" + num
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	return f, true // out of range is ±Inf or 0, as in Python
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// pyStrRepr is Python's repr() of a str.
func pyStrRepr(s string) string {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == utf8.RuneError || !unicode.IsPrint(r) && r != ' ':
			switch {
			case r < 0x100:
				fmt.Fprintf(&b, `\x%02x`, r)
			case r < 0x10000:
				fmt.Fprintf(&b, `\u%04x`, r)
			default:
				fmt.Fprintf(&b, `\U%08x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// pyBytesRepr is Python's repr() of bytes (b'...').
func pyBytesRepr(p []byte) string {
	q := byte('\'')
	if strings.IndexByte(string(p), '\'') >= 0 && strings.IndexByte(string(p), '"') < 0 {
		q = '"'
	}
	var b strings.Builder
	b.WriteString("b")
	b.WriteByte(q)
	for _, c := range p {
		switch {
		case c == q || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// pyFloatRepr is Python's repr() of a float.
func pyFloatRepr(v float64) string {
	switch {
	case math.IsNaN(v):
		return "nan"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e16 {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if i := strings.Index(s, "e"); i >= 0 {
		// Python writes 1e+16 as 1e+16 and 1e-05 as 1e-05: two exponent digits at least.
		mant, exp := s[:i], s[i+1:]
		sign := exp[:1]
		digits := exp[1:]
		if len(digits) < 2 {
			digits = "0" + digits
		}
		return mant + "e" + sign + digits
	}
	return s
}

// pyValueRepr is repr() of a decoded JSON value as Python's json.loads
// would have built it (numbers are json.Number).
func pyValueRepr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case json.Number:
		if isIntLiteral(string(x)) {
			return string(x)
		}
		f, _ := strconv.ParseFloat(string(x), 64)
		return pyFloatRepr(f)
	case string:
		return pyStrRepr(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = pyValueRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		return "{...}"
	}
	return fmt.Sprint(v)
}

// pyStrList is repr() of a list of str.
func pyStrList(names []string) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = pyStrRepr(n)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// pyTypeName is type(v).__name__ of a decoded JSON value.
func pyTypeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case json.Number:
		if isIntLiteral(string(x)) {
			return "int"
		}
		return "float"
	case string:
		return "str"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	}
	return fmt.Sprintf("%T", v)
}

// pyType is repr(type(v)), e.g. <class 'int'>.
func pyType(v any) string { return "<class '" + pyTypeName(v) + "'>" }

// pyExcRepr is repr() of a Python exception with one message argument.
func pyExcRepr(class, msg string) string { return class + "(" + pyStrRepr(msg) + ")" }

func isIntLiteral(s string) bool { return !strings.ContainsAny(s, ".eE") }

// pyJSONDecodeError is the text of Python's json.JSONDecodeError for a
// problem what ("Expecting value", "Extra data") at byte pos of body:
// "Expecting value: line 1 column 1 (char 0)". Python counts characters of
// the decoded text, not bytes. Python names more problems than the two
// used here ("Expecting ',' delimiter", ...); the position is the same.
func pyJSONDecodeError(body []byte, what string, pos int) string {
	before := string(body[:pos])
	char := utf8.RuneCountInString(before)
	line := 1 + strings.Count(before, "\n")
	col := char + 1
	if i := strings.LastIndexByte(before, '\n'); i >= 0 {
		col = char - utf8.RuneCountInString(before[:i])
	}
	return fmt.Sprintf("%s: line %d column %d (char %d)", what, line, col, char)
}
