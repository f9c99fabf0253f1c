package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDefaultArtifactsUpToDate fails when data/attrition.csv or
// data/model.json are stale: run `go generate ./model/`.
func TestDefaultArtifactsUpToDate(t *testing.T) {
	csv, modelJSON, err := DefaultArtifacts()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(csv, attritionCSV) {
		t.Errorf("data/attrition.csv is stale: run go generate ./model/")
	}
	if fresh, err := BaselineOf(attritionCSV, defaultModelJSON); err != nil {
		t.Error(err)
	} else if !bytes.Equal(fresh, defaultBaselineJSON) {
		t.Errorf("data/baseline.json is stale: run go generate ./model/")
	}
	if bytes.Equal(modelJSON, defaultModelJSON) {
		return
	}
	// Parameters are rounded to 6 decimals; a last-digit difference on
	// another platform's floating point is tolerated, anything else is not.
	fresh, err := Parse(modelJSON)
	if err != nil {
		t.Fatal(err)
	}
	emb := defaultModel()
	if !closeModels(fresh, emb, 1e-5) {
		t.Errorf("data/model.json is stale: run go generate ./model/\nfresh:\n%s", modelJSON)
	}
}

func closeModels(a, b *Model, tol float64) bool {
	near := func(x, y []float64) bool {
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if math.Abs(x[i]-y[i]) > tol*math.Max(1, math.Abs(x[i])) {
				return false
			}
		}
		return true
	}
	return a.Name == b.Name && a.Version == b.Version && a.Target == b.Target &&
		slices.Equal(a.Features, b.Features) && slices.Equal(a.Classes, b.Classes) &&
		near(a.Means, b.Means) && near(a.Stds, b.Stds) && near(a.Weights, b.Weights) &&
		near([]float64{a.Bias}, []float64{b.Bias})
}

func TestGenerateDeterministic(t *testing.T) {
	a := GenerateAttritionCSV(50, 7)
	b := GenerateAttritionCSV(50, 7)
	if !bytes.Equal(a, b) {
		t.Fatal("same seed, different data")
	}
	if bytes.Equal(a, GenerateAttritionCSV(50, 8)) {
		t.Fatal("different seeds, same data")
	}
	if n := bytes.Count(a, []byte("\n")); n != 51 {
		t.Fatalf("got %d lines, want 51", n)
	}
}

func attrition(t testing.TB) *Dataset {
	t.Helper()
	ds, err := ReadCSV(bytes.NewReader(attritionCSV), AttritionTarget, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestShippedDataSet(t *testing.T) {
	ds := attrition(t)
	if len(ds.X) != AttritionRows {
		t.Fatalf("%d rows, want %d", len(ds.X), AttritionRows)
	}
	if !slices.Equal(ds.Features, AttritionColumns[:len(AttritionColumns)-1]) {
		t.Fatalf("features %v", ds.Features)
	}
	if !slices.Equal(ds.Classes, []Label{"0", "1"}) {
		t.Fatalf("classes %v", ds.Classes)
	}
	pos := 0
	for _, y := range ds.Y {
		pos += y
	}
	if rate := float64(pos) / float64(len(ds.Y)); rate < 0.15 || rate > 0.45 {
		t.Fatalf("positive rate %.2f: the demo should have both classes well represented", rate)
	}
}

func TestTrainDeterministicBytes(t *testing.T) {
	ds := attrition(t)
	var outs [][]byte
	for range 2 {
		m, err := Train(ds, DefaultTrainOptions())
		if err != nil {
			t.Fatal(err)
		}
		b, err := m.MarshalJSONIndent()
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, b)
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Fatalf("two trainings differ:\n%s\n%s", outs[0], outs[1])
	}
}

func TestTrainAccuracy(t *testing.T) {
	ds := attrition(t)
	// Deterministic hold-out split: every 5th row is a test row.
	train := &Dataset{Features: ds.Features, Target: ds.Target, Classes: ds.Classes}
	test := &Dataset{Features: ds.Features, Target: ds.Target, Classes: ds.Classes}
	for i := range ds.X {
		d := train
		if i%5 == 0 {
			d = test
		}
		d.X = append(d.X, ds.X[i])
		d.Y = append(d.Y, ds.Y[i])
	}
	m, err := Train(train, DefaultTrainOptions())
	if err != nil {
		t.Fatal(err)
	}
	acc, err := m.Accuracy(test)
	if err != nil {
		t.Fatal(err)
	}
	pos := 0
	for _, y := range test.Y {
		pos += y
	}
	baseline := math.Max(float64(pos), float64(len(test.Y)-pos)) / float64(len(test.Y))
	t.Logf("hold-out accuracy %.3f (majority baseline %.3f), training accuracy %.3f", acc, baseline, m.Training.Accuracy)
	if acc < 0.78 || acc < baseline+0.05 {
		t.Fatalf("hold-out accuracy %.3f below floor (0.78 and baseline %.3f + 0.05)", acc, baseline)
	}
	def := Default()
	if acc, _ := def.Accuracy(ds); acc < 0.8 {
		t.Fatalf("default model accuracy on the shipped data %.3f < 0.8", acc)
	}
	// Direction of effects the generator puts in: overtime raises attrition, satisfaction lowers it.
	w := map[string]float64{}
	for i, f := range def.Features {
		w[f] = def.Weights[i]
	}
	if w["overtime"] <= 0 || w["job_satisfaction"] >= 0 {
		t.Fatalf("unexpected weights %v", w)
	}
}

func TestTrainStringLabels(t *testing.T) {
	csv := "x,y,label\n1,0,No\n2,1,No\n8,1,Yes\n9,0,Yes\n"
	ds, err := ReadCSV(strings.NewReader(csv), "label", nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Train(ds, TrainOptions{Name: "s", Iterations: 500, LearningRate: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if m.Predict([]float64{9, 0}) != "Yes" || m.Predict([]float64{1, 0}) != "No" {
		t.Fatalf("bad predictions: %+v", m)
	}
	b, _ := m.MarshalJSONIndent()
	if !bytes.Contains(b, []byte(`"No"`)) {
		t.Fatalf("string labels not quoted: %s", b)
	}
	m2, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m2.Classes, []Label{"No", "Yes"}) {
		t.Fatalf("classes %v", m2.Classes)
	}
	// Numeric classes sort numerically.
	ds, err = ReadCSV(strings.NewReader("x,c\n1,10\n2,9\n"), "c", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ds.Classes, []Label{"9", "10"}) {
		t.Fatalf("classes %v", ds.Classes)
	}
}

func TestReadCSVErrors(t *testing.T) {
	for _, tc := range []struct {
		name, csv, target string
		features          []string
		want              string
	}{
		{"empty", "", "y", nil, "no header"},
		{"no target", "a,b\n1,2\n", "y", nil, "target column"},
		{"no rows", "a,y\n", "y", nil, "no data rows"},
		{"non-numeric", "a,y\nx,1\n2,0\n", "y", nil, "not a finite number"},
		{"one class", "a,y\n1,1\n2,1\n", "y", nil, "1 distinct"},
		{"three classes", "a,y\n1,1\n2,2\n3,3\n", "y", nil, "3 distinct"},
		{"missing feature", "a,y\n1,1\n2,0\n", "y", []string{"b"}, "feature column"},
		{"target as feature", "a,y\n1,1\n2,0\n", "y", []string{"y"}, "both"},
		{"duplicate header", "a,a,y\n1,1,1\n", "y", nil, "twice"},
		{"ragged", "a,y\n1,1\n2\n", "y", nil, "read CSV"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadCSV(strings.NewReader(tc.csv), tc.target, tc.features)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseModelErrors(t *testing.T) {
	good := DefaultJSON()
	if _, err := Parse(good); err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"not json", []byte("nope"), "decode model"},
		{"unknown field", mutate(func(m map[string]any) { m["extra"] = 1 }), "unknown field"},
		{"format", mutate(func(m map[string]any) { m["format"] = "x" }), "unsupported model format"},
		{"version", mutate(func(m map[string]any) { m["version"] = 0 }), "positive"},
		{"weights", mutate(func(m map[string]any) { m["weights"] = []float64{1} }), "weights"},
		{"std", mutate(func(m map[string]any) {
			s := m["stds"].([]any)
			s[0] = 0
		}), "std > 0"},
		{"classes", mutate(func(m map[string]any) { m["classes"] = []any{0} }), "exactly 2"},
		{"same classes", mutate(func(m map[string]any) { m["classes"] = []any{1, 1} }), "both"},
		{"bool class", mutate(func(m map[string]any) { m["classes"] = []any{true, false} }), "class label"},
		{"dup feature", mutate(func(m map[string]any) {
			f := m["features"].([]any)
			f[1] = f[0]
		}), "twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// A model without a name gets the default name.
	m, err := Parse(mutate(func(m map[string]any) { delete(m, "name") }))
	if err != nil || m.Name != DefaultName {
		t.Fatalf("name %q, err %v", m.Name, err)
	}
}

func TestSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.json")
	m := Default()
	m.Name = "other"
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !closeModels(m, got, 0) {
		t.Fatalf("round trip changed the model")
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Fatal("loading a missing file succeeded")
	}
}

func TestDefaultIsACopy(t *testing.T) {
	a := Default()
	a.Weights[0] = 1000
	a.Features[0] = "x"
	if b := Default(); b.Weights[0] == 1000 || b.Features[0] == "x" {
		t.Fatal("Default shares state between callers")
	}
}

func TestLabelJSON(t *testing.T) {
	for l, want := range map[Label]string{"0": "0", "1.5": "1.5", "-2": "-2", "1e3": "1e3", "Yes": `"Yes"`, "+1": `"+1"`, "NaN": `"NaN"`, "": `""`, ".5": `".5"`} {
		b, err := json.Marshal(l)
		if err != nil || string(b) != want {
			t.Errorf("%q → %s, %v; want %s", l, b, err, want)
		}
	}
}

func TestProbabilityExtremes(t *testing.T) {
	m := Default()
	for _, v := range []float64{-1e300, 1e300} {
		row := make([]float64, len(m.Features))
		for i := range row {
			row[i] = v
		}
		p := m.Probability(row)
		if math.IsNaN(p) || p < 0 || p > 1 {
			t.Fatalf("probability %v for %v", p, v)
		}
	}
}

func TestErrBadInput(t *testing.T) {
	_, err := ParseMLflowJSON(Default(), []byte("{}"))
	if !errors.Is(err, ErrBadInput) {
		t.Fatalf("%v does not wrap ErrBadInput", err)
	}
}
