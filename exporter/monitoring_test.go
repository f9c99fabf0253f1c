package exporter

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestMonitoringRoutesAreNotTraffic: scrapes and probes do not show up in
// http_requests_total or the in-flight gauge, predictions do.
func TestMonitoringRoutesAreNotTraffic(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"predictions":[1]}`)
	}))
	defer up.Close()
	e, err := New(Config{Upstream: up.URL, Kind: KindMLflow})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	defer srv.Close()
	for _, p := range []string{"/metrics", "/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Post(srv.URL+"/predict", "application/json", strings.NewReader(`{"inputs":[[1]]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, route := range []string{`route="/metrics"`, `route="/healthz"`, `route="/readyz"`} {
		if strings.Contains(text, route) {
			t.Errorf("monitoring endpoint counted as traffic: %s", route)
		}
	}
	if !strings.Contains(text, `http_requests_total{code="200",method="POST",route="/predict"} 1`) {
		t.Errorf("prediction not counted:\n%s", grep(text, "http_requests_total"))
	}
	if !strings.Contains(text, "http_requests_in_flight 0") {
		t.Errorf("in-flight gauge counts the scrape: %s", grep(text, "http_requests_in_flight"))
	}
}

func grep(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
