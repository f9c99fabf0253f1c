package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Prom is a small client of the Prometheus HTTP API.
type Prom struct {
	// URL is Prometheus' base URL, e.g. http://127.0.0.1:9090.
	URL string
	// Client is the HTTP client (http.DefaultClient when nil).
	Client *http.Client
}

// Target is one active scrape target.
type Target struct {
	// Job is the scrape job.
	Job string `json:"job"`
	// Instance is the instance label.
	Instance string `json:"instance"`
	// ScrapeURL is the URL Prometheus scrapes.
	ScrapeURL string `json:"scrape_url"`
	// Health is up, down or unknown.
	Health string `json:"health"`
	// LastError is the last scrape error.
	LastError string `json:"last_error,omitempty"`
}

// Alert is one alert Prometheus evaluates (pending or firing).
type Alert struct {
	// Name is the alertname label.
	Name string `json:"name"`
	// State is pending or firing.
	State string `json:"state"`
	// Labels are the alert labels.
	Labels map[string]string `json:"labels"`
	// Summary is the summary annotation, if any.
	Summary string `json:"summary,omitempty"`
	// ActiveAt is when the alert became active.
	ActiveAt time.Time `json:"active_at"`
}

func (p *Prom) client() *http.Client {
	if p.Client != nil {
		return p.Client
	}
	return &http.Client{Timeout: 5 * time.Second}
}

// get fetches path and decodes the API envelope's data into v.
func (p *Prom) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+path, nil)
	if err != nil {
		return err
	}
	resp, err := p.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("GET %s: HTTP %d: not an API answer: %.200s", path, resp.StatusCode, body)
	}
	if env.Status != "success" {
		return fmt.Errorf("GET %s: %s", path, env.Error)
	}
	return json.Unmarshal(env.Data, v)
}

// Targets returns the active scrape targets.
func (p *Prom) Targets(ctx context.Context) ([]Target, error) {
	var data struct {
		ActiveTargets []struct {
			Labels     map[string]string `json:"labels"`
			ScrapePool string            `json:"scrapePool"`
			ScrapeURL  string            `json:"scrapeUrl"`
			Health     string            `json:"health"`
			LastError  string            `json:"lastError"`
		} `json:"activeTargets"`
	}
	if err := p.get(ctx, "/api/v1/targets?state=active", &data); err != nil {
		return nil, err
	}
	out := make([]Target, 0, len(data.ActiveTargets))
	for _, t := range data.ActiveTargets {
		job := t.Labels["job"]
		if job == "" {
			job = t.ScrapePool
		}
		out = append(out, Target{Job: job, Instance: t.Labels["instance"], ScrapeURL: t.ScrapeURL, Health: t.Health, LastError: t.LastError})
	}
	return out, nil
}

// Alerts returns the pending and firing alerts.
func (p *Prom) Alerts(ctx context.Context) ([]Alert, error) {
	var data struct {
		Alerts []struct {
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
			State       string            `json:"state"`
			ActiveAt    time.Time         `json:"activeAt"`
		} `json:"alerts"`
	}
	if err := p.get(ctx, "/api/v1/alerts", &data); err != nil {
		return nil, err
	}
	out := make([]Alert, 0, len(data.Alerts))
	for _, a := range data.Alerts {
		out = append(out, Alert{Name: a.Labels["alertname"], State: a.State, Labels: a.Labels, Summary: a.Annotations["summary"], ActiveAt: a.ActiveAt})
	}
	return out, nil
}

// Alertmanagers returns the URLs of the Alertmanagers Prometheus sends to.
func (p *Prom) Alertmanagers(ctx context.Context) ([]string, error) {
	var data struct {
		Active []struct {
			URL string `json:"url"`
		} `json:"activeAlertmanagers"`
	}
	if err := p.get(ctx, "/api/v1/alertmanagers", &data); err != nil {
		return nil, err
	}
	out := make([]string, len(data.Active))
	for i, a := range data.Active {
		out[i] = a.URL
	}
	return out, nil
}

// Reload asks Prometheus (or Alertmanager: same endpoint) to reload its
// configuration through POST /-/reload.
func Reload(ctx context.Context, baseURL string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(baseURL, "/")+"/-/reload", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("reload %s: %w", baseURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("reload %s: HTTP %d: %s", baseURL, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

// Probe GETs url and reports whether it answered 2xx or 3xx.
func Probe(ctx context.Context, client *http.Client, rawURL string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return ue.Err
		}
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return nil
	}
	return fmt.Errorf("HTTP %d", resp.StatusCode)
}

// NoRedirectClient is an HTTP client for probes: it does not follow
// redirects (a 3xx already means the server answers).
func NoRedirectClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
