package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

// Grafana asks a running Grafana (engine grafana) for its alert rules'
// state and their state history, as the admin user with basic auth. The
// password is only ever sent in the Authorization header: it is never
// part of a URL, and every error is scrubbed of it before it reaches the
// report.
//
// Shapes, taken from Grafana's source (github.com/grafana/grafana):
//   - rule state: GET /api/prometheus/grafana/api/v1/rules answers
//     Prometheus' rules format (pkg/services/ngalert/api/tooling/definitions/prom.go:
//     RuleResponse{status, data{groups[{name, file, rules[AlertingRule{state,
//     name, query, health, lastError, labels, alerts[{labels, state,
//     activeAt, value}]}]}]}}), so client_golang's api/prometheus/v1 reads
//     it with the base URL .../api/prometheus/grafana. The rule name is the
//     Grafana rule title; alerts[].state is the instance's state, "Normal",
//     "Alerting", "Pending", "NoData", "Error" (eval.State.String() in
//     pkg/services/ngalert/eval/eval.go), optionally followed by " (reason)"
//     (pkg/services/ngalert/api/api_prometheus.go), and activeAt is when the
//     instance entered that state.
//   - history: GET /api/annotations?type=alert&from=<ms>&to=<ms>&limit=N
//     (https://grafana.com/docs/grafana/latest/developer-resources/api-reference/http-api/annotations/)
//     answers a list of annotations.ItemDTO (pkg/services/annotations/models.go:
//     id, alertId, alertName, newState, prevState, time and timeEnd in Unix
//     ms, text, data). Every state transition of a Grafana rule is one
//     annotation whose text is "<rule title> {<labels>} - <values>" with the
//     labels as data.Labels.String() writes them ("k=v, k2=v2", sorted,
//     private __ labels removed) (buildAnnotationTextAndData in
//     pkg/services/ngalert/state/historian/annotation.go). With the Loki
//     state-history backend the same endpoint reads Loki and builds the
//     same items (pkg/services/annotations/annotationsimpl/loki/historian_store.go),
//     so one request serves both backends. GET /api/v1/rules/history (a data
//     frame) is not used: with the default annotation backend it needs one
//     request per rule uid and answers the same annotations.
type Grafana struct {
	// URL is Grafana's base URL on the host (http://127.0.0.1:3000).
	URL string
	// User is the admin login.
	User     string
	password string
	// Client sends the requests (default: one with a 30 s timeout).
	Client *http.Client
}

// NewGrafana returns a Grafana client logging in as user with password.
func NewGrafana(baseURL, user, password string) *Grafana {
	return &Grafana{URL: strings.TrimRight(baseURL, "/"), User: user, password: password}
}

// String names the Grafana without its password (fmt's %v and %+v).
func (g Grafana) String() string { return g.User + "@" + g.URL }

// GoString is String for %#v: the password never reaches a log line.
func (g Grafana) GoString() string { return "report.Grafana(" + g.String() + ")" }

func (g *Grafana) httpClient() *http.Client {
	if g.Client != nil {
		return g.Client
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// basicAuth adds the admin's credentials to every request.
type basicAuth struct {
	user, password string
	next           http.RoundTripper
}

func (b basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, b.password)
	return b.next.RoundTrip(r)
}

// scrub removes the password from an error's text (a server echoing it
// back must not put it in the report).
func (g *Grafana) scrub(err error) error {
	if err == nil || g.password == "" {
		return err
	}
	msg := err.Error()
	if !strings.Contains(msg, g.password) {
		return err
	}
	return errors.New(strings.ReplaceAll(msg, g.password, "[redacted]"))
}

// Rules returns Grafana's alert rule groups with their instances' state.
func (g *Grafana) Rules(ctx context.Context) (v1.RulesResult, error) {
	next := http.DefaultTransport
	if g.Client != nil && g.Client.Transport != nil {
		next = g.Client.Transport
	}
	c, err := api.NewClient(api.Config{Address: g.URL + "/api/prometheus/grafana",
		RoundTripper: basicAuth{user: g.User, password: g.password, next: next}})
	if err != nil {
		return v1.RulesResult{}, fmt.Errorf("rules client for %s: %w", g.URL, err)
	}
	res, err := v1.NewAPI(c).Rules(ctx, nil)
	if err != nil {
		return v1.RulesResult{}, g.scrub(fmt.Errorf("GET %s/api/prometheus/grafana/api/v1/rules: %w", g.URL, err))
	}
	return res, nil
}

// Annotation is one alert state transition from Grafana's annotations
// API (annotations.ItemDTO; the fields the report reads).
type Annotation struct {
	ID        int64  `json:"id"`
	AlertID   int64  `json:"alertId"`
	AlertName string `json:"alertName"`
	NewState  string `json:"newState"`
	PrevState string `json:"prevState"`
	// Time is the transition's time in Unix milliseconds.
	Time int64  `json:"time"`
	Text string `json:"text"`
}

// maxAnnotations is the limit asked of Grafana: the newest transitions in
// the range (Grafana sorts by time, newest first); maxAnnotationBytes
// bounds the answer.
const (
	maxAnnotations     = 5000
	maxAnnotationBytes = 32 << 20
)

// Annotations returns the alert state transitions Grafana recorded
// between from and to (at most maxAnnotations, newest first) and whether
// the limit cut the list.
func (g *Grafana) Annotations(ctx context.Context, from, to time.Time) ([]Annotation, bool, error) {
	q := url.Values{"type": {"alert"}, "from": {strconv.FormatInt(from.UnixMilli(), 10)},
		"to": {strconv.FormatInt(to.UnixMilli(), 10)}, "limit": {strconv.Itoa(maxAnnotations)}}
	u := g.URL + "/api/annotations?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, false, fmt.Errorf("GET %s: %w", u, err)
	}
	req.SetBasicAuth(g.User, g.password)
	req.Header.Set("Accept", "application/json")
	resp, err := g.httpClient().Do(req)
	if err != nil {
		return nil, false, g.scrub(fmt.Errorf("GET %s: %w", u, err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnnotationBytes+1))
	if err != nil {
		return nil, false, g.scrub(fmt.Errorf("GET %s: %w", u, err))
	}
	if resp.StatusCode != http.StatusOK {
		return nil, false, g.scrub(fmt.Errorf("GET %s: %s: %s", u, resp.Status, grafanaMessage(body)))
	}
	if len(body) > maxAnnotationBytes {
		return nil, false, fmt.Errorf("GET %s: answer larger than %d MiB", u, maxAnnotationBytes>>20)
	}
	var out []Annotation
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, false, fmt.Errorf("GET %s: decode: %w", u, err)
	}
	return out, len(out) >= maxAnnotations, nil
}

// grafanaMessage is the "message" of Grafana's JSON error body, or the
// body's start.
func grafanaMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		return e.Message
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
