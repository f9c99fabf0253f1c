package exporter

import (
	"bytes"
	"math"
	"strconv"
)

// Answer side of drift. The answer's predictions ({"predictions": [..]},
// {"outputs": [..]} or a bare list) are read as:
//
//   - a number (or a one-element list [x]): observed in model_prediction_value
//     when the baseline's prediction kind is "value";
//   - a class-probability row, a list of two or more numbers all in [0, 1]
//     ([0.2, 0.8]) or an object of them ({"0": 0.2, "1": 0.8}): its largest
//     probability is observed in model_prediction_confidence, and its argmax
//     class is counted in model_predictions_total (an answer made of
//     probabilities carries no class otherwise). The class of list position i
//     is the baseline's i-th class when the baseline lists exactly as many
//     classes as the row has probabilities (classes in sorted order, as
//     scikit-learn orders predict_proba's columns) and none of them is
//     "other", else i itself ("0", "1", ...: what `stackgen baseline
//     --predict` records for probability answers);
//     the class of an object is its key.
//
// With a sigmoid baseline (classes "0" and "1" with a confidence, made by
// `stackgen baseline --predict` from a model answering one probability per
// row) a number in [0, 1], bare or as [p], is class p >= 0.5 with confidence
// max(p, 1-p), and is not counted as a class of its own.
//
// Anything else (strings, objects with non-numbers, longer lists with values
// outside [0, 1] such as logits) is left to the class counting of
// eachPrediction. A malformed answer adds nothing here.

// indexLabels are the class labels of probability positions without a
// baseline class list.
var indexLabels = func() [][]byte {
	l := make([][]byte, 256)
	for i := range l {
		l[i] = []byte(strconv.Itoa(i))
	}
	return l
}()

// answer accounts the drift view of one answer body.
func (d *driftMetrics) answer(body []byte, classes *classCache) {
	i := skipWS(body, 0)
	end := skipValue(body, i)
	if end < 0 || skipWS(body, end) != len(body) {
		return
	}
	switch body[i] {
	case '[':
		d.predictions(body, i, classes)
	case '{':
		eachKey(body, i, func(key []byte, v int) bool {
			if string(key) == "predictions" || string(key) == "outputs" {
				if v < len(body) && body[v] == '[' {
					d.predictions(body, v, classes)
				}
				return false
			}
			return true
		})
	}
}

func (d *driftMetrics) predictions(b []byte, i int, classes *classCache) {
	eachElem(b, i, func(v int) bool {
		switch b[v] {
		case '[':
			n, top, arg := probRow(b, v)
			switch {
			case n == 1 && d.sigmoid && top >= 0 && top <= 1:
				d.sigmoidClass(top, classes)
			case n == 1 && d.predValue != nil:
				d.predValue.Observe(top)
			case n >= 2:
				d.confidence.Observe(top)
				label := indexLabels[len(indexLabels)-1]
				if len(d.classes) == n {
					label = d.classes[arg]
				} else if arg < len(indexLabels) {
					label = indexLabels[arg]
				}
				classes.inc(label, true, false)
			}
		case '{':
			if key, top, ok := probObject(b, v); ok {
				d.confidence.Observe(top)
				classes.inc(key, true, bytes.IndexByte(key, '\\') >= 0)
			}
		default:
			if d.sigmoid {
				if x, ok := jsonNumber(b, v); ok && x >= 0 && x <= 1 {
					d.sigmoidClass(x, classes)
				}
			} else if d.predValue != nil {
				if x, ok := jsonNumber(b, v); ok {
					d.predValue.Observe(x)
				}
			}
		}
		return true
	})
}

// sigmoidClass counts one single-probability answer of a sigmoid model:
// class "1" when p >= 0.5, else "0", with confidence max(p, 1-p).
func (d *driftMetrics) sigmoidClass(p float64, classes *classCache) {
	d.confidence.Observe(max(p, 1-p))
	if p >= 0.5 {
		classes.inc(indexLabels[1], true, false)
	} else {
		classes.inc(indexLabels[0], true, false)
	}
}

// isProbability reports whether a raw prediction is a number in [0, 1]:
// for a sigmoid baseline those are counted by the drift side, not as
// classes of their own.
func isProbability(raw []byte, str bool) bool {
	if str || len(raw) == 0 || raw[0] == 't' || raw[0] == 'f' {
		return false
	}
	x, err := strconv.ParseFloat(string(raw), 64)
	return err == nil && x >= 0 && x <= 1
}

// jsonNumber parses the finite JSON number at v.
func jsonNumber(b []byte, v int) (float64, bool) {
	end := skipValue(b, v)
	if end < 0 {
		return 0, false
	}
	c := b[v]
	if c != '-' && (c < '0' || c > '9') {
		return 0, false
	}
	x, err := strconv.ParseFloat(string(b[v:end]), 64)
	if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
		return 0, false
	}
	return x, true
}

// probRow reads the list at v: n is its length when every element is a
// finite number (in [0, 1] when n ≥ 2), else 0; top is the largest and arg
// its position (the only value when n is 1).
func probRow(b []byte, v int) (n int, top float64, arg int) {
	top, lo := math.Inf(-1), math.Inf(1)
	ok := true
	eachElem(b, v, func(e int) bool {
		x, isNum := jsonNumber(b, e)
		if !isNum {
			ok = false
			return false
		}
		if x > top {
			top, arg = x, n
		}
		lo = min(lo, x)
		n++
		return true
	})
	if !ok || n == 0 || (n >= 2 && (lo < 0 || top > 1)) {
		return 0, 0, 0
	}
	return n, top, arg
}

// probObject reads {"class": probability, ...} (two or more keys, every value
// a number in [0, 1]) and returns the argmax key (raw) and its probability.
func probObject(b []byte, v int) (key []byte, top float64, ok bool) {
	ok = true
	n := 0
	top = -1
	eachKey(b, v, func(k []byte, e int) bool {
		x, isNum := jsonNumber(b, e)
		if !isNum || x < 0 || x > 1 {
			ok = false
			return false
		}
		if x > top {
			top, key = x, k
		}
		n++
		return true
	})
	if !ok || n < 2 {
		return nil, 0, false
	}
	return key, top, true
}
