package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Prom asks a stack's Prometheus through client_golang's HTTP API client.
type Prom struct {
	// URL is Prometheus' base URL, e.g. http://127.0.0.1:9090.
	URL string
	// Client is the HTTP client (a 5 s timeout client when nil).
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

// API returns client_golang's Prometheus API client for p.
func (p *Prom) API() (promv1.API, error) {
	hc := p.Client
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	c, err := api.NewClient(api.Config{Address: p.URL, Client: hc})
	if err != nil {
		return nil, fmt.Errorf("prometheus client for %s: %w", p.URL, err)
	}
	return promv1.NewAPI(c), nil
}

// Targets returns the active scrape targets, sorted by job and instance.
func (p *Prom) Targets(ctx context.Context) ([]Target, error) {
	a, err := p.API()
	if err != nil {
		return nil, err
	}
	res, err := a.Targets(ctx)
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: targets: %w", p.URL, err)
	}
	out := make([]Target, 0, len(res.Active))
	for _, t := range res.Active {
		job := string(t.Labels[model.JobLabel])
		if job == "" {
			job = t.ScrapePool
		}
		out = append(out, Target{Job: job, Instance: string(t.Labels[model.InstanceLabel]), ScrapeURL: t.ScrapeURL, Health: string(t.Health), LastError: t.LastError})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Job != out[j].Job {
			return out[i].Job < out[j].Job
		}
		return out[i].Instance < out[j].Instance
	})
	return out, nil
}

// Alerts returns the pending and firing alerts.
func (p *Prom) Alerts(ctx context.Context) ([]Alert, error) {
	a, err := p.API()
	if err != nil {
		return nil, err
	}
	res, err := a.Alerts(ctx)
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: alerts: %w", p.URL, err)
	}
	out := make([]Alert, 0, len(res.Alerts))
	for _, al := range res.Alerts {
		labels := make(map[string]string, len(al.Labels))
		for k, v := range al.Labels {
			labels[string(k)] = string(v)
		}
		out = append(out, Alert{Name: labels[model.AlertNameLabel], State: string(al.State), Labels: labels,
			Summary: string(al.Annotations["summary"]), ActiveAt: al.ActiveAt})
	}
	return out, nil
}

// Alertmanagers returns the URLs of the Alertmanagers Prometheus sends to.
func (p *Prom) Alertmanagers(ctx context.Context) ([]string, error) {
	a, err := p.API()
	if err != nil {
		return nil, err
	}
	res, err := a.AlertManagers(ctx)
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: alertmanagers: %w", p.URL, err)
	}
	out := make([]string, len(res.Active))
	for i, am := range res.Active {
		out[i] = am.URL
	}
	return out, nil
}

// ConfigLoaded reports whether Prometheus' last configuration (re)load
// succeeded (reloadConfigSuccess of /api/v1/status/runtimeinfo, current at
// once, unlike the scraped prometheus_config_last_reload_successful): false
// means it still runs an older configuration than the files on disk.
func (p *Prom) ConfigLoaded(ctx context.Context) (bool, error) {
	a, err := p.API()
	if err != nil {
		return false, err
	}
	ri, err := a.Runtimeinfo(ctx)
	if err != nil {
		return false, fmt.Errorf("prometheus %s: runtime info: %w", p.URL, err)
	}
	return ri.ReloadConfigSuccess, nil
}

// Reload asks Prometheus (or Alertmanager: same endpoint) to reload its
// configuration through POST /-/reload. The management API is not part of
// client_golang's API client, hence the plain request. A refused
// configuration is an error carrying the server's explanation.
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
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	if resp.StatusCode/100 != 2 {
		return &ReloadError{URL: baseURL, Status: resp.StatusCode, Cause: strings.TrimSpace(string(body))}
	}
	return nil
}

// ReloadError is a configuration a server refused to load.
type ReloadError struct {
	// URL is the server's base URL.
	URL string
	// Status is the HTTP status of POST /-/reload.
	Status int
	// Cause is the server's explanation (the response body).
	Cause string
}

// Error names the server and its explanation.
func (e *ReloadError) Error() string {
	return fmt.Sprintf("reload %s: HTTP %d: %s", e.URL, e.Status, e.Cause)
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
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
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
