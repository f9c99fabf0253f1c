package livecheck

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stackgen/stackgen/loadgen"
	"github.com/stackgen/stackgen/model"
	"github.com/stackgen/stackgen/stack"
)

// liveDriftStack is liveStack with drift on the demo model and a one-minute
// window.
const liveDriftStack = `
name: lc
models:
  - name: demo
    kind: demo
    drift: {window: 1m}
prometheus:
  scrape_interval: 1s
  evaluation_interval: 1s
grafana:
  enabled: false
alerting:
  engine: prometheus
smtp:
  mode: "off"
`

// TestLiveDrift runs the check against a real Prometheus evaluating the
// rendered drift recording rules over the real exporter counting against
// the demo baseline: on a fresh stack the Data drift panels that need rows
// wait for traffic and nothing fails; the baseline shares are there from
// the start; after rows sampled from the baseline, every drift panel has
// data and each feature's PSI is small.
func TestLiveDrift(t *testing.T) {
	e := startEnv(t, liveDriftStack)
	ctx := context.Background()
	rep, err := CheckURL(ctx, e.url, e.stack)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatalf("fresh stack with drift: %v", err)
	}
	for _, r := range rep.Results {
		if r.Row != "Data drift" {
			continue
		}
		baselineQuery := r.RefID == "B" && strings.HasPrefix(r.Panel, "Share per bin")
		if baselineQuery && r.Status != StatusOK {
			t.Errorf("before traffic, %s: %s, want ok (the exporter exports the baseline shares from start)", r.Where(), r.Status)
		}
		if strings.Contains(r.Query, stack.RecFeaturePSI+"{") && r.Status != StatusNoTraffic {
			t.Errorf("before traffic, %s: %s, want no_traffic", r.Where(), r.Status)
		}
	}

	pool, err := loadgen.SamplePool(e.stack.Models[0].Drift.Baseline, loadgen.SampleOptions{Bodies: 200, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range pool {
		resp, err := http.Post(e.exporter+"/predict", model.ContentTypeJSON, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("predict: %d for %s", resp.StatusCode, b)
		}
	}
	var waiting []Result
	deadline := time.Now().Add(20 * time.Second)
	for {
		if rep, err = Check(ctx, e.api, e.stack); err != nil {
			t.Fatal(err)
		}
		waiting = nil
		for _, r := range rep.Results {
			if r.Row == "Data drift" && r.Status != StatusOK && !strings.Contains(r.Panel, "Missing") {
				waiting = append(waiting, r)
			}
		}
		if len(waiting) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if err := rep.Err(); err != nil {
		t.Fatalf("after traffic: %v", err)
	}
	for _, r := range waiting {
		t.Errorf("after traffic, %s: %s %s", r.Where(), r.Status, r.Detail)
	}
	v, _, _, err := e.api.Query(ctx, `max(`+stack.RecFeaturePSI+`{model="demo"})`, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if s := v.String(); !strings.Contains(s, "=>") {
		t.Fatalf("no PSI: %s", s)
	}
	t.Logf("largest feature PSI after 400 calm rows: %s", v)
}
