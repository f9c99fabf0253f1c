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
	"unicode/utf8"
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
	// Text is the plain-text body: the text/plain part, or the HTML part with
	// tags stripped. Lists cut it at PreviewBytes (see Truncated).
	Text string `json:"text"`
	// HTML is the text/html part, when there is one. Lists cut it at
	// PreviewBytes (see Truncated).
	HTML string `json:"html,omitempty"`
	// ReceivedAt is when the catcher accepted the message.
	ReceivedAt time.Time `json:"received_at"`
	// Size is the raw message size in bytes.
	Size int `json:"size"`
	// Truncated is true when Text or HTML were cut at PreviewBytes, as they
	// are in lists; GET /api/messages/{id} returns the whole message.
	Truncated bool `json:"truncated,omitempty"`
	// Raw is the message source as received; only a single message
	// (GET /api/messages/{id}) carries it.
	Raw string `json:"raw,omitempty"`
}

// PreviewBytes is where the bodies (Text and HTML) of listed messages are cut.
const PreviewBytes = 4 << 10

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
	return parseMessage(raw, from, to, 0)
}

// parseMessage is ParseMessage with Text and HTML cut at limit bytes each
// (0: whole). Bodies are decoded as a stream, so a cut body never exists
// whole in memory.
func parseMessage(raw []byte, from string, to []string, limit int) (Message, error) {
	m := Message{From: from, To: append([]string(nil), to...), Size: len(raw)}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		m.Text = string(raw)
		if limit > 0 && len(m.Text) > limit {
			m.Text, m.Truncated = cutUTF8(m.Text, limit), true
		}
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
	text, htm := &capBuilder{max: limit}, &capBuilder{max: limit}
	err = walkPart(h.Get("Content-Type"), h.Get("Content-Transfer-Encoding"), msg.Body, text, htm, 0)
	m.Text, m.HTML = text.String(), htm.String()
	m.Truncated = text.cut || htm.cut
	if m.Text == "" && m.HTML != "" {
		m.Text = htmlToText(m.HTML)
	}
	return m, err
}

// capBuilder collects a body up to max bytes (0: no limit) and drops the
// rest, remembering that it did.
type capBuilder struct {
	b   strings.Builder
	max int
	cut bool
}

func (c *capBuilder) Write(p []byte) (int, error) {
	n := len(p)
	if c.max > 0 {
		room := c.max - c.b.Len()
		if room < len(p) {
			c.cut = c.cut || len(p) > 0
			if room < 0 {
				room = 0
			}
			p = p[:room]
		}
	}
	c.b.Write(p)
	return n, nil
}

func (c *capBuilder) WriteString(s string) { c.Write([]byte(s)) }

func (c *capBuilder) Len() int { return c.b.Len() }

// String is the collected body; a cut one ends on a whole UTF-8 character.
func (c *capBuilder) String() string {
	if c.cut {
		return cutUTF8(c.b.String(), c.b.Len())
	}
	return c.b.String()
}

// cutUTF8 cuts s to at most n bytes without splitting a UTF-8 character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		n = len(s)
	} else {
		s = s[:n]
	}
	for i := 0; i < utf8.UTFMax && len(s) > 0; i++ {
		r, size := utf8.DecodeLastRuneInString(s)
		if r != utf8.RuneError || size != 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}

// walkPart appends the text parts of one MIME entity to text and htm.
func walkPart(contentType, encoding string, body io.Reader, text, htm *capBuilder, depth int) error {
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
	out := text
	if mediaType == "text/html" {
		out = htm
	}
	if out.Len() > 0 {
		out.WriteString("\n")
	}
	if _, err := io.Copy(out, decodeBody(encoding, body)); err != nil {
		return fmt.Errorf("decode %s body (%s): %w", mediaType, encoding, err)
	}
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
