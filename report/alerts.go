package report

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/stackgen/stackgen/alerting"
	"github.com/stackgen/stackgen/stack"
)

// RuleState is one alert rule instance (alert × model) at the end of the range.
type RuleState struct {
	Name, Model, Condition string
	// State is firing, pending or inactive (engine prometheus, from
	// Prometheus' rules API), or for engine grafana the value compared with
	// the threshold ("above threshold" / "below threshold").
	State string
	// Value is the rule's value query at To ("" when empty).
	Value string
	// ActiveSince is when the alert became pending/firing (zero if not).
	ActiveSince time.Time
	// Error is the rule's evaluation error, if any.
	Error string
}

// Firing is one stretch of time an alert was pending or firing in the range,
// from the ALERTS series.
type Firing struct {
	Name, Model, State string
	Labels             string
	From, To           time.Time
}

// Email is one message the mail catcher received in the range.
type Email struct {
	ReceivedAt time.Time
	From       string
	To         []string
	Subject    string
	Text       string
	Truncated  bool
}

func ruleStates(ctx context.Context, s *stack.Stack, o Options, hist []Firing, st time.Duration) ([]RuleState, string) {
	rules, err := alerting.Rules(s)
	if err != nil {
		return nil, fmt.Sprintf("alert rules: %v", err)
	}
	type key struct{ name, model string }
	type alertAt struct {
		state string
		since time.Time
	}
	live := map[key]alertAt{}
	health := map[string]string{}
	var problems []string
	if s.AlertmanagerEnabled() {
		// The state at To comes from the ALERTS series (what Prometheus
		// recorded then, so a past --to gives the same page); only a rule's
		// evaluation error comes from the rules API (it has no history).
		c, cancel := context.WithTimeout(ctx, o.QueryTimeout)
		res, err := o.API.Rules(c, nil)
		cancel()
		if err != nil {
			problems = append(problems, fmt.Sprintf("Prometheus rules API: %v", err))
		}
		for _, g := range res.Groups {
			for _, r := range g.Rules {
				if ar, ok := r.(v1.AlertingRule); ok && ar.LastError != "" {
					health[ar.Name] = ar.LastError
				}
			}
		}
		alerts, err := instant(ctx, o, "ALERTS")
		if err != nil {
			problems = append(problems, fmt.Sprintf("ALERTS at %s: %v", o.To.UTC().Format(time.RFC3339), err))
		}
		for _, smp := range alerts {
			k := key{string(smp.Metric["alertname"]), string(smp.Metric[alerting.LabelModel])}
			if cur, ok := live[k]; !ok || cur.state != "firing" {
				live[k] = alertAt{state: string(smp.Metric["alertstate"])}
			}
		}
		// Active since: ALERTS_FOR_STATE holds it (rules with a for
		// duration), else the start of the stretch in the history that
		// reaches To.
		forState, _ := instant(ctx, o, "ALERTS_FOR_STATE")
		for _, smp := range forState {
			k := key{string(smp.Metric["alertname"]), string(smp.Metric[alerting.LabelModel])}
			if a, ok := live[k]; ok {
				a.since = time.Unix(int64(smp.Value), 0).UTC()
				live[k] = a
			}
		}
		for _, f := range hist {
			k := key{f.Name, f.Model}
			if a, ok := live[k]; ok && a.since.IsZero() && a.state == f.State && o.To.Sub(f.To) <= st*3/2 {
				a.since = f.From
				live[k] = a
			}
		}
	}
	problem := strings.Join(problems, "; ")
	out := make([]RuleState, 0, len(rules))
	for _, r := range rules {
		rs := RuleState{Name: r.Name, Model: r.Model, Condition: r.Query.Value, Error: health[r.Name]}
		if !r.Query.Custom() {
			rs.Condition = r.Query.Condition()
		}
		c, cancel := context.WithTimeout(ctx, o.QueryTimeout)
		v, _, _, err := o.API.Query(c, r.Query.Value, o.To, v1.WithTimeout(o.QueryTimeout))
		cancel()
		var val float64
		hasVal := false
		if err != nil {
			rs.Error = strings.TrimSpace(rs.Error + " " + fmt.Sprintf("value query: %v", err))
		} else if vec, ok := v.(model.Vector); ok && len(vec) > 0 {
			sort.Sort(vec)
			val, hasVal = float64(vec[0].Value), !math.IsNaN(float64(vec[0].Value))
			rs.Value = strconv.FormatFloat(val, 'g', 4, 64)
		}
		if s.AlertmanagerEnabled() {
			rs.State = "inactive"
			if a, ok := live[key{r.Name, r.Model}]; ok {
				rs.State, rs.ActiveSince = a.state, a.since
			}
		} else {
			rs.State = "no data"
			if hasVal {
				rs.State = "below threshold"
				if r.Query.Custom() || (r.Query.Op == alerting.OpAbove && val > r.Query.Threshold) ||
					(r.Query.Op != alerting.OpAbove && val < r.Query.Threshold) {
					rs.State = "above threshold"
					if r.Query.Op != alerting.OpAbove && !r.Query.Custom() {
						rs.State = "condition met"
					}
				}
			}
		}
		out = append(out, rs)
	}
	return out, problem
}

// instant evaluates query at o.To.
func instant(ctx context.Context, o Options, query string) (model.Vector, error) {
	ctx, cancel := context.WithTimeout(ctx, o.QueryTimeout)
	defer cancel()
	v, _, _, err := o.API.Query(ctx, query, o.To, v1.WithTimeout(o.QueryTimeout))
	if err != nil {
		return nil, err
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("Prometheus answered a %s, not a vector", v.Type())
	}
	sort.Sort(vec)
	return vec, nil
}

// history reads the ALERTS series over the range: one Firing per alert,
// state and contiguous stretch of samples.
func history(ctx context.Context, st time.Duration, o Options) ([]Firing, string) {
	ctx, cancel := context.WithTimeout(ctx, o.QueryTimeout)
	defer cancel()
	v, _, _, err := o.API.QueryRange(ctx, "ALERTS", v1.Range{Start: o.From, End: o.To, Step: st}, v1.WithTimeout(o.QueryTimeout))
	if err != nil {
		return nil, fmt.Sprintf("ALERTS history: %v", err)
	}
	m, _ := v.(model.Matrix)
	sort.Sort(m)
	var out []Firing
	for _, ss := range m {
		f := Firing{Name: string(ss.Metric["alertname"]), Model: string(ss.Metric[alerting.LabelModel]),
			State: string(ss.Metric["alertstate"]), Labels: ss.Metric.String()}
		for i, p := range ss.Values {
			t := p.Timestamp.Time().UTC()
			if i > 0 && t.Sub(f.To) > st*3/2 {
				out = append(out, f)
				f.From = time.Time{}
			}
			if f.From.IsZero() {
				f.From = t
			}
			f.To = t
		}
		if !f.From.IsZero() {
			out = append(out, f)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].From.Before(out[j].From) })
	return out, ""
}

// mailPageLimit is the page size asked of the mail catcher; maxMailPages
// bounds how far back the report pages (newest first).
const (
	mailPageLimit = 100
	maxMailPages  = 50
	// maxFullEmails bounds the whole messages fetched for a report; later
	// ones show the list's preview (marked as cut).
	maxFullEmails = 100
)

// emails pages through the mail catcher's JSON API (newest first) until a
// page is older than From, keeping the messages received in the range,
// oldest first.
func emails(ctx context.Context, o Options) ([]Email, string) {
	client := o.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	base := strings.TrimRight(o.MailURL, "/")
	var out []Email
	fetched := 0
	for page := 1; page <= maxMailPages; page++ {
		u := fmt.Sprintf("%s/api/messages?page=%d&limit=%d", base, page, mailPageLimit)
		msgs, err := mailPage(ctx, client, u)
		if err != nil {
			return out, err.Error()
		}
		older := false
		for _, m := range msgs {
			switch {
			case m.ReceivedAt.Before(o.From):
				older = true
			case !m.ReceivedAt.After(o.To):
				if m.Truncated && m.ID != "" && fetched < maxFullEmails {
					// Lists cut bodies at the catcher's preview size (even
					// mid-tag); the message's own URL has it whole.
					fetched++
					full, err := mailMessageByID(ctx, client, base+"/api/messages/"+url.PathEscape(m.ID))
					if err != nil {
						return out, err.Error()
					}
					m = full
				}
				out = append(out, Email{ReceivedAt: m.ReceivedAt.UTC(), From: m.From, To: m.To, Subject: m.Subject,
					Text: m.Text, Truncated: m.Truncated})
			}
		}
		if older || len(msgs) < mailPageLimit {
			break
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ReceivedAt.Before(out[j].ReceivedAt) })
	return out, ""
}

// mailMessage is the part of the mail catcher's message JSON the report shows.
type mailMessage struct {
	ID         string    `json:"id"`
	From       string    `json:"from"`
	To         []string  `json:"to"`
	Subject    string    `json:"subject"`
	Text       string    `json:"text"`
	ReceivedAt time.Time `json:"received_at"`
	Truncated  bool      `json:"truncated"`
}

// maxMailPageBytes bounds one page of the mail catcher's answer.
const maxMailPageBytes = 64 << 20

func mailPage(ctx context.Context, client *http.Client, u string) ([]mailMessage, error) {
	var msgs []mailMessage
	return msgs, mailGet(ctx, client, u, &msgs)
}

func mailMessageByID(ctx context.Context, client *http.Client, u string) (mailMessage, error) {
	var m mailMessage
	return m, mailGet(ctx, client, u, &m)
}

// mailGet GETs u from the mail catcher and decodes its JSON into v.
func mailGet(ctx context.Context, client *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("mail catcher: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("mail catcher: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMailPageBytes))
	if err != nil {
		return fmt.Errorf("mail catcher %s: %w", redact(u), err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mail catcher %s: %s: %s", redact(u), resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("mail catcher %s: decode: %w", redact(u), err)
	}
	return nil
}

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Redacted()
}
