package baseline

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// trainingCSV is a synthetic CSV of rows rows: 8 numeric columns (normal,
// skewed, discrete, constant), 2 categorical ones and a binary target.
func trainingCSV(rows int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	b.WriteString("n1,n2,n3,n4,n5,n6,n7,n8,c1,c2,y\n")
	for i := 0; i < rows; i++ {
		fmt.Fprintf(&b, "%.3f,%.3f,%d,%d,%.2f,%.1f,7,%.4f,%s,%s,%d\n",
			r.NormFloat64()*10+40, r.ExpFloat64()*1000, r.IntN(5), r.IntN(100), r.Float64(), r.NormFloat64(), r.Float64()*1e6,
			[]string{"sales", "hr", "it", "rd", "ops"}[r.IntN(5)], fmt.Sprint("cat", r.IntN(40)), r.IntN(2))
	}
	return b.Bytes()
}

// BenchmarkCompute: the cost of a baseline of 100,000 training rows.
func BenchmarkCompute(b *testing.B) {
	data := trainingCSV(100_000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compute(bytes.NewReader(data), Options{Target: "y"}); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzCompute: any CSV either gives an error or a baseline that passes
// Validate and survives a Parse round trip.
func FuzzCompute(f *testing.F) {
	f.Add(string(trainingCSV(20)), "y", 10)
	f.Add("a,b\n1,x\n1,y\n,z\nNA,other\n", "b", 2)
	f.Add("a\n5\n5\n", "", 3)
	f.Add("a,t\n1e308,-0\n-1e308,0\n", "t", 4)
	f.Fuzz(func(t *testing.T, data, target string, bins int) {
		b, err := Compute(strings.NewReader(data), Options{Target: target, Bins: bins})
		if err != nil {
			if strings.Contains(err.Error(), "a bug") {
				t.Fatal(err)
			}
			return
		}
		out, err := b.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("Compute's output does not parse: %v\n%s", err, out)
		}
	})
}
