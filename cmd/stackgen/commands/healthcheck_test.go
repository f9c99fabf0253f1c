package commands

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusOK)
		case "/redirect":
			http.Redirect(w, r, "/elsewhere-that-fails", http.StatusFound)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	defer srv.Close()
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"healthcheck", srv.URL + "/ok"}, 0},
		{[]string{"healthcheck", srv.URL + "/redirect"}, 0}, // 3xx counts, not followed
		{[]string{"healthcheck", srv.URL + "/down"}, 1},
		{[]string{"healthcheck", "--timeout", "500ms", closedURL}, 1},
		{[]string{"healthcheck"}, 1}, // URL missing
	} {
		if got := Execute(tc.args); got != tc.want {
			t.Errorf("stackgen %v: exit %d, want %d", tc.args, got, tc.want)
		}
	}
}
