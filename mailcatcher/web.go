package mailcatcher

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// Pagination of the page and the JSON list.
const (
	// DefaultPageLimit is how many messages a page (and a GET /api/messages
	// without ?limit=) lists.
	DefaultPageLimit = 50
	// MaxPageLimit is the largest ?limit= accepted.
	MaxPageLimit = 500
	// maxPage keeps (page-1)*limit far from overflowing.
	maxPage = 1 << 30
)

// pageCSP keeps mail content on the pages inert: no scripts, no network
// fetches (remote images in emails stay unloaded), inline styles only.
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'; base-uri 'none'; form-action 'none'"

// Handler is the web page and JSON API:
//
//	GET    /?page=N&limit=M              HTML list, newest first, 50 a page, bodies cut at PreviewBytes
//	GET    /messages/{id}                HTML page of one whole message
//	GET    /api/messages?page=N&limit=M  JSON array, newest first, 50 a page (limit ≤ 500), bodies cut
//	                                     at PreviewBytes ("truncated": true); X-Total-Count and Link headers
//	GET    /api/messages/{id}            one whole message with its raw source ("raw"); 404 when unknown
//	GET    /api/messages/{id}/raw        the raw source as received (text/plain)
//	DELETE /api/messages                 remove every message (204)
//	DELETE /api/messages/{id}            remove one message (204; 404 when unknown)
//	GET    /healthz                      "ok"
//
// Bad ?page= or ?limit= values get 400 with {"error"} (HTML: a plain text
// message).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.listPage)
	mux.HandleFunc("GET /messages/{id}", s.full(s.messagePage))
	mux.HandleFunc("GET /api/messages", s.apiList)
	mux.HandleFunc("GET /api/messages/{id}", s.full(func(w http.ResponseWriter, r *http.Request, m Message) {
		writeJSON(w, http.StatusOK, m)
	}))
	mux.HandleFunc("GET /api/messages/{id}/raw", func(w http.ResponseWriter, r *http.Request) {
		raw, ok := s.store.Raw(r.PathValue("id"))
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no message " + r.PathValue("id")})
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Length", strconv.Itoa(len(raw)))
		w.Write(raw)
	})
	mux.HandleFunc("DELETE /api/messages", func(w http.ResponseWriter, r *http.Request) {
		s.store.Clear()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /api/messages/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !s.store.Delete(r.PathValue("id")) {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no message " + r.PathValue("id")})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	return mux
}

// paging is one page of a list.
type paging struct {
	Page, Limit, Total, Pages int
	First, Last               int // 1-based positions of the first and last message shown
	Prev, Next                int // newer and older page (Prev is at most the last page)
}

// parsePaging reads ?page= (from 1) and ?limit= (1 to MaxPageLimit).
func parsePaging(q url.Values) (paging, error) {
	p := paging{Page: 1, Limit: DefaultPageLimit}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPage {
			return p, fmt.Errorf("page: want a whole number from 1 to %d (got %q)", maxPage, v)
		}
		p.Page = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageLimit {
			return p, fmt.Errorf("limit: want a whole number from 1 to %d (got %q)", MaxPageLimit, v)
		}
		p.Limit = n
	}
	return p, nil
}

// page returns the messages of p and fills in its totals.
func (s *Server) page(p *paging) []Message {
	offset := (p.Page - 1) * p.Limit
	msgs, total := s.store.Page(offset, p.Limit)
	p.Total = total
	p.Pages = (total + p.Limit - 1) / p.Limit
	if len(msgs) > 0 {
		p.First, p.Last = offset+1, offset+len(msgs)
	}
	p.Prev, p.Next = min(p.Page-1, max(p.Pages, 1)), p.Page+1
	return msgs
}

func (s *Server) apiList(w http.ResponseWriter, r *http.Request) {
	p, err := parsePaging(r.URL.Query())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	msgs := s.page(&p)
	h := w.Header()
	h.Set("X-Total-Count", strconv.Itoa(p.Total))
	var links []string
	if p.Page > 1 {
		links = append(links, fmt.Sprintf(`</api/messages?page=%d&limit=%d>; rel="prev"`, p.Prev, p.Limit))
	}
	if p.Page < p.Pages {
		links = append(links, fmt.Sprintf(`</api/messages?page=%d&limit=%d>; rel="next"`, p.Next, p.Limit))
	}
	for _, l := range links {
		h.Add("Link", l)
	}
	writeJSON(w, http.StatusOK, msgs)
}

// full wraps a handler of one whole message: it finds the message, parses it
// again (at most maxFullViews at once) and calls h, or answers 404.
func (s *Server) full(h func(http.ResponseWriter, *http.Request, Message)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case s.fullViews <- struct{}{}:
			defer func() { <-s.fullViews }()
		case <-r.Context().Done():
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		m, ok := s.store.Full(r.PathValue("id"))
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no message " + r.PathValue("id")})
			return
		}
		h(w, r, m)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// writeHTML renders t into a buffer first, so a template error is a clean 500.
func writeHTML(w http.ResponseWriter, t *template.Template, data any) {
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.Write(b.Bytes())
}

func (s *Server) listPage(w http.ResponseWriter, r *http.Request) {
	p, err := parsePaging(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	msgs := s.page(&p)
	writeHTML(w, listTmpl, struct {
		Msgs   []Message
		P      paging
		Limits Config
		Query  func(page int) string
	}{msgs, p, s.cfg, func(page int) string {
		q := url.Values{"page": {strconv.Itoa(page)}}
		if p.Limit != DefaultPageLimit {
			q.Set("limit", strconv.Itoa(p.Limit))
		}
		return "/?" + q.Encode()
	}})
}

func (s *Server) messagePage(w http.ResponseWriter, r *http.Request, m Message) {
	writeHTML(w, messageTmpl, m)
}

// humanBytes formats n as B, KiB or MiB.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}
