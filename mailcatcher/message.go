package mailcatcher

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"
	"time"
)

// Message is one received mail as the JSON API returns it.
type Message struct {
	// ID identifies the message in the API (increasing decimal numbers).
	ID string `json:"id"`
	// From is the From header (or the envelope sender when the header is missing).
	From string `json:"from"`
	// To are the envelope recipients (RCPT TO).
	To []string `json:"to"`
	// Subject is the decoded Subject header.
	Subject string `json:"subject"`
	// Date is the Date header in RFC 3339 ("" when missing or malformed).
	Date string `json:"date"`
	// Text is the plain-text body: the text/plain part, or the HTML part with tags stripped.
	Text string `json:"text"`
	// HTML is the text/html part, when there is one.
	HTML string `json:"html,omitempty"`
	// ReceivedAt is when the catcher accepted the message.
	ReceivedAt time.Time `json:"received_at"`
	// Size is the raw message size in bytes.
	Size int `json:"size"`
}

// maxDepth bounds nested multiparts.
const maxDepth = 10

var wordDecoder = mime.WordDecoder{CharsetReader: charsetReader}

// charsetReader passes bodies in charsets Go does not know through unchanged,
// so a message in an exotic charset is still stored (possibly garbled).
func charsetReader(charset string, input io.Reader) (io.Reader, error) { return input, nil }

// ParseMessage parses a raw RFC 5322 message received from envelope sender
// from for recipients to. It decodes encoded-word headers, quoted-printable
// and base64 bodies and walks multipart bodies for their text/plain and
// text/html parts. A message it cannot parse as MIME is kept with its raw
// body as text.
func ParseMessage(raw []byte, from string, to []string) (Message, error) {
	m := Message{From: from, To: append([]string(nil), to...), Size: len(raw)}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		m.Text = string(raw)
		return m, fmt.Errorf("parse message headers: %w", err)
	}
	h := msg.Header
	if f := h.Get("From"); f != "" {
		m.From = decodeHeader(f)
	}
	m.Subject = decodeHeader(h.Get("Subject"))
	if d, err := h.Date(); err == nil {
		m.Date = d.Format(time.RFC3339)
	}
	if len(m.To) == 0 {
		if list, err := h.AddressList("To"); err == nil {
			for _, a := range list {
				m.To = append(m.To, a.Address)
			}
		}
	}
	var text, htm strings.Builder
	if err := walkPart(h.Get("Content-Type"), h.Get("Content-Transfer-Encoding"), msg.Body, &text, &htm, 0); err != nil {
		return m, err
	}
	m.Text, m.HTML = text.String(), htm.String()
	if m.Text == "" && m.HTML != "" {
		m.Text = htmlToText(m.HTML)
	}
	return m, nil
}

// walkPart appends the text parts of one MIME entity to text and htm.
func walkPart(contentType, encoding string, body io.Reader, text, htm *strings.Builder, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("multipart nested deeper than %d levels", maxDepth)
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || contentType == "" {
		mediaType, params = "text/plain", map[string]string{}
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		boundary := params["boundary"]
		if boundary == "" {
			return fmt.Errorf("%s without a boundary", mediaType)
		}
		mr := multipart.NewReader(body, boundary)
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read %s part: %w", mediaType, err)
			}
			err = walkPart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, text, htm, depth+1)
			p.Close()
			if err != nil {
				return err
			}
		}
	}
	if mediaType != "text/plain" && mediaType != "text/html" {
		return nil // attachments and inline images are not stored
	}
	b, err := io.ReadAll(decodeBody(encoding, body))
	if err != nil {
		return fmt.Errorf("decode %s body (%s): %w", mediaType, encoding, err)
	}
	out := text
	if mediaType == "text/html" {
		out = htm
	}
	if out.Len() > 0 {
		out.WriteString("\n")
	}
	out.Write(b)
	return nil
}

// decodeBody undoes a Content-Transfer-Encoding.
func decodeBody(encoding string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &stripSpace{r: r})
	}
	return r
}

// stripSpace drops CR, LF, spaces and tabs, which base64 bodies contain between lines.
type stripSpace struct{ r io.Reader }

func (s *stripSpace) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		j := 0
		for _, c := range p[:n] {
			if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

func decodeHeader(v string) string {
	d, err := wordDecoder.DecodeHeader(v)
	if err != nil {
		return v
	}
	return d
}

var (
	dropBlocks = regexp.MustCompile(`(?is)<(style|script|head)\b.*?</(style|script|head)>`)
	breaks     = regexp.MustCompile(`(?i)<br\s*/?>|</(p|div|tr|h[1-6]|li|table)>`)
	tags       = regexp.MustCompile(`(?s)<[^>]*>`)
	blankLines = regexp.MustCompile(`\n[ \t\r\n]*\n`)
	spaces     = regexp.MustCompile(`[ \t]+`)
)

// htmlToText is a crude HTML to text conversion for mails without a text part.
func htmlToText(s string) string {
	s = dropBlocks.ReplaceAllString(s, "")
	s = breaks.ReplaceAllString(s, "\n")
	s = tags.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	s = spaces.ReplaceAllString(s, " ")
	s = blankLines.ReplaceAllString(s, "\n")
	return strings.TrimSpace(s)
}
