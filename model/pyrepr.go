package model

import (
	"bytes"
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
		if x == "-0" {
			return "0" // Python's int has no negative zero
		}
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

// pyJSONProblem finds where and how Python's json.loads refuses body (which
// Go's decoder refused): it walks the tokens, tracking what Python's
// scanner expects next, and names the problem as Python does ("Expecting
// value", "Expecting ',' delimiter", "Expecting ':' delimiter", "Expecting
// property name enclosed in double quotes", "Unterminated string starting
// at", "Invalid control character at"), with the byte position.
func pyJSONProblem(body []byte) (what string, pos int) {
	const (
		wantValue = iota // a value (top level, after '[', ',' in an array, ':')
		wantKey          // a property name (after '{' or ',' in an object)
		wantColon        // ':' after a property name
		wantComma        // ',' or the end of the container
		done             // the top-level value is complete
	)
	type level struct {
		obj   bool
		state int
	}
	stack := []level{{state: wantValue}}
	top := func() *level { return &stack[len(stack)-1] }
	afterValue := func() {
		if len(stack) == 1 {
			top().state = done
		} else {
			top().state = wantComma
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		t, err := dec.Token()
		if err != nil {
			p := int(dec.InputOffset())
			var se *json.SyntaxError
			if errors.As(err, &se) && !strings.Contains(se.Error(), "unexpected end") {
				p = offendingByte(body, se)
				if strings.Contains(se.Error(), "in string literal") {
					return "Invalid control character at", p
				}
			} else {
				// at the end: skip what the scanner had consumed
				for p < len(body) && strings.IndexByte(" \t\r\n,:", body[p]) >= 0 {
					p++
				}
				if p < len(body) && body[p] == '"' {
					return "Unterminated string starting at", p
				}
				if p < len(body) {
					// a cut literal or number: Python fails at its start
					return "Expecting value", p
				}
			}
			p = max(0, min(p, len(body)))
			// Go consumes ':' and ',' with the token after them.
			prev := bytes.TrimRight(body[:p], " \t\r\n")
			switch {
			case len(prev) > 0 && prev[len(prev)-1] == ':':
				return "Expecting value", p
			case len(prev) > 0 && prev[len(prev)-1] == ',' && top().obj:
				return "Expecting property name enclosed in double quotes", p
			case len(prev) > 0 && prev[len(prev)-1] == ',':
				return "Expecting value", p
			}
			switch top().state {
			case wantKey:
				return "Expecting property name enclosed in double quotes", p
			case wantColon:
				return "Expecting ':' delimiter", p
			case wantComma:
				return "Expecting ',' delimiter", p
			case done:
				return "Extra data", p
			}
			return "Expecting value", p
		}
		switch t {
		case json.Delim('{'):
			stack = append(stack, level{obj: true, state: wantKey})
			continue
		case json.Delim('['):
			stack = append(stack, level{state: wantValue})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			afterValue()
			continue
		}
		if l := top(); l.obj && l.state == wantKey {
			l.state = wantColon
			continue
		}
		afterValue()
	}
}

// offendingByte is the position of the byte a Go JSON syntax error names
// ("invalid character 'x' ..."). Go reports some errors at the offset before
// the byte (and whitespace) and others just after it.
func offendingByte(body []byte, se *json.SyntaxError) int {
	p := int(se.Offset)
	for q := p; q < len(body); q++ {
		if strings.Contains(se.Error(), "invalid character "+goQuoteChar(body[q])) {
			return q
		}
		if strings.IndexByte(" \t\r\n", body[q]) < 0 {
			break
		}
	}
	return max(0, p-1)
}

// goQuoteChar quotes a byte as encoding/json's messages do.
func goQuoteChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	s := strconv.Quote(string(c))
	return "'" + s[1:len(s)-1] + "'"
}
