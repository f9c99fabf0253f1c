package model

import (
	"bytes"
	"fmt"
	"strconv"
)

// Defaults of the shipped data set and model; gen.go and the staleness test use them.
const (
	// AttritionRows is the number of rows of data/attrition.csv.
	AttritionRows = 500
	// AttritionSeed is the seed data/attrition.csv is generated from.
	AttritionSeed = 20240601
	// AttritionTarget is the label column of data/attrition.csv.
	AttritionTarget = "attrition"
)

// AttritionColumns are the columns of the synthetic attrition data set, the
// label last.
var AttritionColumns = []string{
	"age", "monthly_income", "years_at_company", "job_satisfaction",
	"overtime", "distance_from_home", "num_companies_worked", AttritionTarget,
}

// GenerateAttritionCSV generates the synthetic employee-attrition data set as
// CSV with a header row: rows employees with integer features (age,
// monthly_income, years_at_company, job_satisfaction 1–4, overtime 0/1,
// distance_from_home in km, num_companies_worked) and a 0/1 attrition label
// drawn from a noisy linear rule (overtime, low satisfaction, youth, low
// income, long commutes, job hopping and short tenure raise the odds).
//
// The output is a pure function of rows and seed on every platform: it uses
// its own SplitMix64 generator and approximates normal noise with a sum of
// uniforms, so no library random stream or transcendental function is
// involved. data/attrition.csv is GenerateAttritionCSV(AttritionRows, AttritionSeed).
func GenerateAttritionCSV(rows int, seed uint64) []byte {
	r := splitmix{s: seed}
	var b bytes.Buffer
	for i, c := range AttritionColumns {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(c)
	}
	b.WriteByte('\n')
	for range rows {
		age := clampInt(roundInt(37+9*r.norm()), 20, 60)
		tenureMax := min(age-20, 30)
		t := r.float()
		years := int(t * t * float64(tenureMax+1))
		income := clampInt(roundInt(2500+110*float64(age-20)+180*float64(years)+1800*r.norm()), 1500, 25000)
		income = income / 10 * 10
		satisfaction := 1 + r.intn(4)
		overtime := 0
		if r.float() < 0.28 {
			overtime = 1
		}
		d := r.float()
		distance := 1 + int(d*d*29)
		companies := clampInt(roundInt(2.5+2*r.norm()), 0, 9)

		z := -1.7 +
			1.7*float64(overtime) -
			0.6*float64(satisfaction-2) -
			0.05*float64(age-37) -
			0.00015*float64(income-7000) +
			0.05*float64(distance-8) +
			0.2*float64(companies-2) -
			0.08*float64(years-6)
		attrition := 0
		if z+0.9*r.norm() > 0 {
			attrition = 1
		}
		for i, v := range []int{age, income, years, satisfaction, overtime, distance, companies, attrition} {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(v))
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// DefaultArtifacts returns what `go generate ./model/` writes:
// data/attrition.csv and data/model.json (the model trained on it with
// [DefaultTrainOptions]).
func DefaultArtifacts() (csv, modelJSON []byte, err error) {
	csv = GenerateAttritionCSV(AttritionRows, AttritionSeed)
	ds, err := ReadCSV(bytes.NewReader(csv), AttritionTarget, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("read generated data set: %w", err)
	}
	m, err := Train(ds, DefaultTrainOptions())
	if err != nil {
		return nil, nil, fmt.Errorf("train default model: %w", err)
	}
	modelJSON, err = m.MarshalJSONIndent()
	if err != nil {
		return nil, nil, err
	}
	return csv, modelJSON, nil
}

// splitmix is the SplitMix64 generator: tiny, fast and fully specified.
type splitmix struct{ s uint64 }

func (r *splitmix) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// float returns a uniform value in [0, 1).
func (r *splitmix) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// intn returns a value in [0, n).
func (r *splitmix) intn(n int) int { return int(r.next() % uint64(n)) }

// norm returns approximately standard-normal noise (Irwin–Hall, 12 uniforms).
func (r *splitmix) norm() float64 {
	s := 0.0
	for range 12 {
		s += r.float()
	}
	return s - 6
}

func roundInt(v float64) int {
	if v < 0 {
		return -int(-v + 0.5)
	}
	return int(v + 0.5)
}

func clampInt(v, lo, hi int) int { return max(lo, min(hi, v)) }
