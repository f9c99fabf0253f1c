package mailcatcher

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestStorePage(t *testing.T) {
	st := NewStore(100)
	for i := 1; i <= 7; i++ {
		st.Add(Message{Subject: fmt.Sprint(i)})
	}
	tests := []struct {
		offset, limit int
		want          string
	}{
		{0, 3, "7 6 5"},
		{3, 3, "4 3 2"},
		{6, 3, "1"},
		{7, 3, ""},
		{100, 3, ""},
		{-5, 2, "7 6"},
		{0, -1, "7 6 5 4 3 2 1"},
		{2, 0, ""},
	}
	for _, tt := range tests {
		msgs, total := st.Page(tt.offset, tt.limit)
		var got []string
		for _, m := range msgs {
			got = append(got, m.Subject)
		}
		if strings.Join(got, " ") != tt.want || total != 7 || msgs == nil {
			t.Errorf("Page(%d, %d) = %q (total %d), want %q (total 7)", tt.offset, tt.limit, got, total, tt.want)
		}
	}
}

func TestStoreFullAndRaw(t *testing.T) {
	st := NewStoreLimits(Limits{MaxMessages: 10, MaxBytes: 1 << 20})
	raw := []byte("Subject: s\r\n\r\n" + strings.Repeat("é", PreviewBytes) + "END\r\n")
	m, err := st.AddRaw(raw, "env@example.com", []string{"to@example.com"}, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	plain := st.Add(Message{Subject: "no raw", Text: strings.Repeat("x", 2*PreviewBytes)})
	tests := []struct {
		name string
		ok   bool
	}{
		{"stored preview cut", len(m.Text) <= PreviewBytes && utf8.ValidString(m.Text) && m.Truncated},
		{"raw kept", func() bool { r, ok := st.Raw(m.ID); return ok && string(r) == string(raw) }()},
		{"full parsed whole", func() bool {
			f, ok := st.Full(m.ID)
			return ok && strings.HasSuffix(f.Text, "END\r\n") && !f.Truncated && f.Raw == string(raw) && f.From == "env@example.com" && f.ID == m.ID
		}()},
		{"added without raw stays whole", func() bool {
			f, ok := st.Full(plain.ID)
			return ok && len(f.Text) == 2*PreviewBytes && f.Raw == ""
		}()},
		{"unknown id", func() bool { _, ok := st.Full("99"); _, ok2 := st.Raw("abc"); return !ok && !ok2 }()},
		{"bytes accounted", st.Bytes() > int64(len(raw)+2*PreviewBytes) && st.Bytes() < int64(len(raw)+4*PreviewBytes+2*recordOverhead)},
	}
	for _, tt := range tests {
		if !tt.ok {
			t.Errorf("%s: false", tt.name)
		}
	}
}

func TestCutUTF8(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abc", 2, "ab"},
		{"aé", 2, "a"}, // é is 2 bytes: not split
		{"a€", 3, "a"}, // € is 3 bytes
		{"a€", 4, "a€"},
		{"😀b", 3, ""},
		{"", 3, ""},
	}
	for _, tt := range tests {
		if got := cutUTF8(tt.in, tt.n); got != tt.want {
			t.Errorf("cutUTF8(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

// BenchmarkListPage renders the first page of a full store of 500 alert-sized
// messages (20 KiB each): what a browser on the default page costs.
func BenchmarkListPage(b *testing.B) {
	s, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	raw := []byte("From: a@example.com\r\nSubject: [FIRING:1] x\r\n\r\n" + strings.Repeat(strings.Repeat("y", 78)+"\r\n", 256))
	for i := 0; i < 500; i++ {
		s.Store().AddRaw(raw, "a@example.com", []string{"b@example.com"}, time.Now())
	}
	h := s.Handler()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := discardResponse{header: http.Header{}}
		h.ServeHTTP(&w, httptest.NewRequest("GET", "/", nil))
		b.SetBytes(int64(w.n))
	}
}

// BenchmarkAddRaw stores 1 MiB messages in a 20 MiB store (parse, preview, evict).
func BenchmarkAddRaw(b *testing.B) {
	st := NewStoreLimits(Limits{MaxMessages: 500, MaxBytes: 20 << 20})
	raw := []byte("Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("z", 1022)+"\r\n", 1024))
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		st.AddRaw(raw, "a@example.com", []string{"b@example.com"}, time.Time{})
	}
}

type discardResponse struct {
	header http.Header
	n      int
}

func (d *discardResponse) Header() http.Header         { return d.header }
func (d *discardResponse) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }
func (d *discardResponse) WriteHeader(int)             {}
