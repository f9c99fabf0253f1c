package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/stackgen/stackgen/internal/testtool"
)

// pandasRepr prints str(pd.DataFrame(...)) for a dataframe_split value
// with real pandas, casting the named columns to float64 as MLflow does.
const pandasRepr = `
import json, sys
import pandas as pd
for line in sys.stdin:
    spec = json.loads(line)
    df = pd.DataFrame(index=spec["split"].get("index"), columns=spec["split"].get("columns"), data=spec["split"]["data"])
    for c in spec["cast"]:
        if c in df.columns:
            df[c] = df[c].astype("float64")
    print(json.dumps(str(df)))
`

// TestFrameReprAgainstPandas renders frames with frame.repr and with
// pandas itself (Debian's python3-pandas), and compares.
func TestFrameReprAgainstPandas(t *testing.T) {
	py := pandasPython(t)
	demo, _, err := Example(Default(), FormatDataframeSplit)
	if err != nil {
		t.Fatal(err)
	}
	var demoSplit map[string]json.RawMessage
	if err := json.Unmarshal(demo, &demoSplit); err != nil {
		t.Fatal(err)
	}
	long := make([]string, 70)
	for i := range long {
		long[i] = "[" + strings.Repeat("1", i%5+1) + ".5,-" + string(rune('0'+i%10)) + ",\"s\"]"
	}
	cases := []struct {
		name  string
		split string
		cast  []string
	}{
		{"demo model", string(demoSplit[FormatDataframeSplit]), Default().Features},
		{"common decimals", `{"columns":["a"],"data":[[37.07],[28.5]]}`, []string{"a"}},
		{"negative, NaN, strings", `{"columns":["a","s","i"],"data":[[-1.5,"x",1],[null,null,-22]]}`, []string{"a"}},
		{"index labels", `{"index":["x","yy"],"columns":["a"],"data":[[1],[2]]}`, []string{"a"}},
		{"70 rows", `{"columns":["a","b","c"],"data":[` + strings.Join(long, ",") + `]}`, []string{"a", "b"}},
		{"twelve columns", `{"columns":["c1","c2","c3","c4","c5","c6","c7","c8","c9","c10","c11","c12"],"data":[[1,2,3,4,5,6,7,8,9,10,11,12]]}`,
			[]string{"c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10", "c11", "c12"}},
		{"scientific for small values", `{"columns":["a","b"],"data":[[1e-7,1e7],[1,-2.5]]}`, []string{"a", "b"}},
		{"scientific for long large values", `{"columns":["a","b","c"],"data":[[1e16,123456789,-0],[1,1,null]]}`, []string{"a", "b"}},
		{"three wide columns", `{"columns":["a_very_long_column_name_number_one","a_very_long_column_name_number_two","a_very_long_column_name_number_3"],"data":[[1,2,3]]}`,
			[]string{"a_very_long_column_name_number_one"}},
		{"wide and long", `{"columns":["aaaaaaaaaaaaaaaaaaaa","bbbbbbbbbbbbbbbbbbbb","cccccccccccccccccccc","dddddddddddddddddddd"],"data":[` +
			strings.TrimSuffix(strings.Repeat("[1,2,3,4],", 65), ",") + `]}`, []string{"aaaaaaaaaaaaaaaaaaaa"}},
	}
	var in bytes.Buffer
	for _, tc := range cases {
		b, err := json.Marshal(map[string]any{"split": json.RawMessage(tc.split), "cast": tc.cast})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		in.Write(append(b, '\n'))
	}
	cmd := exec.Command(py, "-c", pandasRepr)
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("python printed %d lines for %d cases:\n%s", len(lines), len(cases), out)
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var want string
			if err := json.Unmarshal([]byte(lines[i]), &want); err != nil {
				t.Fatal(err)
			}
			v, ord, err := decodeOrdered([]byte(`{"x":` + tc.split + `}`))
			if err != nil {
				t.Fatal(err)
			}
			f, err := splitFrame(v["x"], ord)
			if err != nil {
				t.Fatal(err)
			}
			m := &Model{Features: tc.cast}
			if err := castFrame(m, f); err != nil {
				t.Fatal(err)
			}
			if got := f.repr(); got != want {
				t.Fatalf("repr\n%s\npandas\n%s", got, want)
			}
		})
	}
}

// pandasPython finds a python3 that imports pandas: the one on PATH, or
// Debian's (PATH may lead to another installation, e.g. pyenv's).
func pandasPython(t *testing.T) string {
	t.Helper()
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append([]string{p}, candidates...)
	}
	for _, py := range candidates {
		if exec.Command(py, "-c", "import pandas").Run() == nil {
			return py
		}
	}
	testtool.Missing(t, "no python3 that imports pandas (apt-get install python3-pandas)")
	return ""
}

// numpyFormat prints str() and repr() of np.array(values, dtype=float64).
const numpyFormat = `
import json, sys
import numpy as np
for line in sys.stdin:
    a = np.array(json.loads(line), dtype=np.float64)
    print(json.dumps([str(a), repr(a)]))
`

// TestNumpyFormatAgainstNumpy prints arrays with npStr/npRepr and with
// numpy itself, and compares.
func TestNumpyFormatAgainstNumpy(t *testing.T) {
	py := pandasPython(t)
	seq := func(n int, f func(i int) string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = f(i)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	cases := []string{
		`[37.07,28.5]`,
		`[1,3]`,
		`[0,-0.0,2.5]`,
		`[[37.07,5322.78,5.48,2.52,0.31,9.71,2.6],[28.5,2784.37,0,1.4,0.78,18.16,4.37]]`,
		`[[1,2],[3,4]]`,
		`[1e-5,1]`,
		`[123456789.5]`,
		`[0.30000000000000004,1.123456789]`,
		`[1e100,1]`,
		`[-1.5,2]`,
		seq(30, func(i int) string { return strconv.Itoa(i*7) + ".25" }),
		seq(3, func(i int) string { return seq(20, func(j int) string { return strconv.Itoa(i*j) + ".5" }) }),
		seq(1500, func(i int) string { return strconv.Itoa(i) }),
		seq(400, func(i int) string { return "[" + strconv.Itoa(i) + ".5,-1,2]" }),
	}
	var in bytes.Buffer
	for _, c := range cases {
		in.WriteString(c + "\n")
	}
	cmd := exec.Command(py, "-c", numpyFormat)
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("python printed %d lines for %d cases", len(lines), len(cases))
	}
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			var want []string
			if err := json.Unmarshal([]byte(lines[i]), &want); err != nil {
				t.Fatal(err)
			}
			var v any
			d := json.NewDecoder(strings.NewReader(c))
			d.UseNumber()
			if err := d.Decode(&v); err != nil {
				t.Fatal(err)
			}
			a, perr := npArray(v, true)
			if perr != nil {
				t.Fatal(perr.msg)
			}
			if got := npStr(a); got != want[0] {
				t.Errorf("str\n%s\nnumpy\n%s", got, want[0])
			}
			if got := npRepr(a); got != want[1] {
				t.Errorf("repr\n%s\nnumpy\n%s", got, want[1])
			}
		})
	}
}
