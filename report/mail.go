package report

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Email is one message the mail catcher received in the range.
type Email struct {
	ReceivedAt time.Time
	From       string
	To         []string
	Subject    string
	Text       string
	Truncated  bool
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
