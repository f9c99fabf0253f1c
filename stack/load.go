package stack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/stackgen/stackgen/internal/editdist"
)

// Problem is one thing wrong with stack.yaml, located by file, line and field.
type Problem struct {
	// File is the stack.yaml path.
	File string
	// Line and Column are 1-based; 0 when unknown.
	Line, Column int
	// Field is the path of the field, e.g. alerts[2].threshold.
	Field string
	// Message says what is wrong and, where possible, how to fix it.
	Message string
}

// String formats the problem as FILE:LINE:COL: FIELD: MESSAGE.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", p.Line, p.Column)
	}
	b.WriteString(": ")
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is every problem found in a stack.yaml; it is the error Load returns.
type Problems []Problem

// Error lists every problem, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Load reads, defaults and validates the stack.yaml at path. A non-nil error
// is a Problems listing everything wrong, or an I/O error.
func Load(path string) (*Stack, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return nil, Problems{{File: path, Message: fmt.Sprintf("is a folder, not a stack file; name the file itself, e.g. -f %s", filepath.Join(path, "stack.yaml"))}}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read stack file: %w", err)
	}
	return Parse(data, path)
}

// Parse decodes stack.yaml bytes; file names the source in problems and
// anchors relative paths.
func Parse(data []byte, file string) (*Stack, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		return nil, Problems{syntaxProblem(file, err)}
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		doc = doc.Content[0]
	}
	// A second document is reported with the first one's problems.
	var probs Problems
	if p, more := secondDocument(dec, data, file, doc.Line); more {
		probs = append(probs, p)
	}
	if doc.Kind != yaml.MappingNode {
		return nil, Problems{{File: file, Line: doc.Line, Column: doc.Column, Message: "stack.yaml must be a mapping with at least name: and models: (run 'stackgen init' for a starter)"}}
	}
	// The document itself is the fallback position of every field, so a
	// missing top-level field is reported at its start.
	pos := positions{"": {line: doc.Line, col: doc.Column}}
	walk(doc, reflect.TypeOf(Stack{}), "", pos, &probs, file, map[*yaml.Node]bool{})

	var s Stack
	if err := decode(doc, &s); err != nil {
		probs = append(probs, typeProblems(file, err, pos)...)
	}
	s.File = file
	s.pos = pos
	// Validate even when the structure had problems, so one run lists them
	// all; skip checks on fields that already failed to decode.
	bad := map[string]bool{}
	for _, p := range probs {
		bad[p.Field] = true
	}
	// A zero written in the file is not "unset": catch it before defaults
	// replace it.
	checks := s.explicitZeros(pos)
	s.ApplyDefaults()
	checks = append(checks, s.validate(pos)...)
	for _, p := range checks {
		if !bad[p.Field] {
			p.File = file
			probs = append(probs, p)
		}
	}
	if len(probs) > 0 {
		sortProblems(probs)
		return nil, probs
	}
	return &s, nil
}

var separatorRE = regexp.MustCompile(`^---(\s|$)`)

// secondDocument reports a document after the first one: stackgen reads one
// document per file, and silently ignoring the rest would drop settings. It
// locates the '---' that starts the second document (firstLine is where the
// first document's content starts).
func secondDocument(dec *yaml.Decoder, data []byte, file string, firstLine int) (Problem, bool) {
	var next yaml.Node
	err := dec.Decode(&next)
	if errors.Is(err, io.EOF) {
		return Problem{}, false
	}
	line := next.Line
	for i, l := range strings.Split(string(data), "\n") {
		if i+1 > firstLine && separatorRE.MatchString(l) {
			line = i + 1
			break
		}
	}
	if line == 0 {
		line = firstLine
	}
	return Problem{File: file, Line: line, Column: 1,
		Message: fmt.Sprintf("%s holds one document; remove the '---' at line %d or split the file", filepath.Base(file), line)}, true
}

// decode is doc.Decode(s), turning a panic inside yaml.v3 (it panics on
// some odd input, e.g. a mapping used as a mapping key) into an error.
func decode(doc *yaml.Node, s *Stack) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: cannot decode this document: %v", doc.Line, r)}}
		}
	}()
	return doc.Decode(s)
}

func sortProblems(ps Problems) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Column < ps[j].Column
	})
}

var yamlLineRE = regexp.MustCompile(`line (\d+):?\s*`)

func syntaxProblem(file string, err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	p := Problem{File: file, Message: "invalid YAML: " + msg}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Column = 1
		p.Message = "invalid YAML: " + strings.Replace(msg, m[0], "", 1)
	}
	if errors.Is(err, errEOF) || strings.Contains(msg, "EOF") {
		p.Message = "the file is empty; write at least name: and models: (run 'stackgen init' for a starter)"
	}
	return p
}

var errEOF = errors.New("EOF")

// typeProblems turns yaml.v3's type errors into located problems.
func typeProblems(file string, err error, pos positions) Problems {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return Problems{{File: file, Message: err.Error()}}
	}
	var out Problems
	for _, e := range te.Errors {
		p := Problem{File: file, Message: e}
		if m := yamlLineRE.FindStringSubmatch(e); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			p.Message = strings.Replace(e, m[0], "", 1)
			p.Field, p.Column = pos.fieldAtLine(p.Line)
		}
		p.Message = friendlyTypeError(p.Message)
		out = append(out, p)
	}
	return out
}

var typeErrorRE = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")

// friendlyTypeError rewrites yaml.v3's "cannot unmarshal !!str `abc` into int"
// as "must be an integer (got "abc")", naming YAML shapes, not Go types.
func friendlyTypeError(msg string) string {
	m := typeErrorRE.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	got := strconv.Quote(m[2])
	switch m[1] {
	case "map":
		got = "a mapping"
	case "seq":
		got = "a list"
	case "int", "float", "bool", "null":
		got = m[2]
	}
	want := "a " + m[3]
	switch t := m[3]; {
	case strings.HasPrefix(t, "[]"):
		want = "a list"
	case strings.HasPrefix(t, "map["), strings.HasPrefix(t, "stack."):
		want = "a mapping"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		want = "an integer"
	case strings.HasPrefix(t, "float"):
		want = "a number"
	case t == "bool":
		want = "true or false"
	case t == "string":
		want = "a string"
	}
	return fmt.Sprintf("must be %s (got %s)", want, got)
}

// position is where a field's key (or a list item) stands in the file; null
// is true when the key has no value (port:), which counts as not set.
type position struct {
	line, col int
	null      bool
}

// positions maps field paths (models[0].kind) to their place in the file.
type positions map[string]position

// lookup returns the position of path, or of its nearest present parent
// (the document itself, recorded as "", when no parent is present).
func (p positions) lookup(path string) (int, int) {
	for {
		if v, ok := p[path]; ok {
			return v.line, v.col
		}
		if path == "" {
			return 0, 0
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			i = 0
		}
		path = path[:i]
	}
}

// fieldAtLine returns the deepest field whose key stands on line. When
// several equally deep fields share the line (items of a flow sequence such
// as buckets: [0.1, x]), the error cannot be pinned to one of them, so their
// parent is returned.
func (p positions) fieldAtLine(line int) (string, int) {
	best, col, tie := "", 0, false
	for k, v := range p {
		if v.line != line || k == "" {
			continue
		}
		switch {
		case len(k) > len(best):
			best, col, tie = k, v.col, false
		case len(k) == len(best) && k != best:
			tie = true
		}
	}
	if tie {
		if i := strings.LastIndexAny(best, ".["); i > 0 {
			best = best[:i]
			_, col = p.lookup(best)
		}
	}
	return best, col
}

var durationType = reflect.TypeOf(Duration(0))

// walk records the position of every key and reports unknown keys with a
// "did you mean" hint, following the Go type the node decodes into.
//
// active holds the mappings being walked, so that a merge key aliasing one of
// its own ancestors (&m {<<: *m}) is not followed forever.
func walk(n *yaml.Node, t reflect.Type, path string, pos positions, probs *Problems, file string, active map[*yaml.Node]bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch {
	case t == durationType:
		return
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		if active[n] {
			return
		}
		active[n] = true
		defer delete(active, n)
		dropDuplicateKeys(n, path, probs, file)
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			child := join(path, k.Value)
			if isMergeKey(k) {
				// <<: *anchor merges the anchored mapping(s) into this one.
				if v.Kind == yaml.AliasNode && v.Alias != nil {
					v = v.Alias
				}
				if v.Kind == yaml.SequenceNode {
					for _, item := range v.Content {
						walk(item, t, path, pos, probs, file, active)
					}
				} else {
					walk(v, t, path, pos, probs, file, active)
				}
				continue
			}
			f, ok := fields[k.Value]
			if !ok {
				msg := fmt.Sprintf("unknown field %q", k.Value)
				if hint, secret := secretFields[child]; secret {
					msg += "; " + hint
				} else if s := suggest(k.Value, keys(fields)); s != "" {
					msg += fmt.Sprintf("; did you mean %q?", s)
				} else {
					msg += fmt.Sprintf("; known fields here: %s", strings.Join(keys(fields), ", "))
				}
				*probs = append(*probs, Problem{File: file, Line: k.Line, Column: k.Column, Field: child, Message: msg})
				continue
			}
			pos[child] = position{line: k.Line, col: k.Column, null: isNull(v)}
			walk(v, f.Type, child, pos, probs, file, active)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, item := range n.Content {
			child := fmt.Sprintf("%s[%d]", path, i)
			pos[child] = position{line: item.Line, col: item.Column}
			walk(item, t.Elem(), child, pos, probs, file, active)
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		dropDuplicateKeys(n, path, probs, file)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			child := join(path, k.Value)
			pos[child] = position{line: k.Line, col: k.Column}
			walk(n.Content[i+1], t.Elem(), child, pos, probs, file, active)
		}
	}
}

// isNull reports whether n (or the node it aliases) is YAML's null.
func isNull(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// isMergeKey reports whether k is YAML's merge key <<.
func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge"
}

// dropDuplicateKeys reports every key of mapping n written twice and removes
// the later pair, so the decoder still fills the rest of the mapping (yaml.v3
// would otherwise decode none of it, and validation would report its fields
// as missing).
func dropDuplicateKeys(n *yaml.Node, path string, probs *Problems, file string) {
	first := map[string]int{}
	kept := n.Content[:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind == yaml.ScalarNode && !isMergeKey(k) {
			if line, dup := first[k.Value]; dup {
				*probs = append(*probs, Problem{File: file, Line: k.Line, Column: k.Column, Field: join(path, k.Value),
					Message: fmt.Sprintf("is already set at line %d; remove one of them", line)})
				continue
			}
			first[k.Value] = k.Line
		}
		kept = append(kept, n.Content[i], n.Content[i+1])
	}
	n.Content = kept
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlFields maps yaml keys to struct fields.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f
	}
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// suggest returns the candidate closest to s, if it is close enough to be a typo.
func suggest(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := editdist.Levenshtein(strings.ToLower(s), c)
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := len(s) / 3
	if limit < 2 {
		limit = 2
	}
	if bestD >= 0 && bestD <= limit {
		return best
	}
	return ""
}
