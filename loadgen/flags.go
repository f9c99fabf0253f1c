package loadgen

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// CheckURL checks a target URL: http or https with a host. A URL without a
// scheme ("127.0.0.1:8000/predict") gets a hint with the http:// form.
func CheckURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("no target URL")
	}
	if !strings.Contains(raw, "://") {
		return nil, fmt.Errorf("target URL %q has no scheme: write http://%s (or https://)", raw, strings.TrimLeft(raw, "/"))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("target URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("target URL %q: scheme must be http or https, got %q", raw, u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("target URL %q has no host", raw)
	}
	return u, nil
}

// ParseHeaders turns "Name: value" lines (curl's -H syntax) into a header.
// Names must be HTTP tokens; values must not hold CR, LF or other control
// characters, which would split the request.
func ParseHeaders(lines []string) (http.Header, error) {
	h := http.Header{}
	for _, line := range lines {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("header %q: want \"Name: value\"", line)
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		h[http.CanonicalHeaderKey(name)] = append(h[http.CanonicalHeaderKey(name)], value)
	}
	if err := checkHeaders(h); err != nil {
		return nil, err
	}
	return h, nil
}

// checkHeaders refuses header names that are not HTTP tokens and values
// with CR, LF or other control characters: sent as they are, they would
// split the request (header injection).
func checkHeaders(h http.Header) error {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("header name %q is not a valid HTTP token", k)
		}
		for _, v := range h[k] {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("header %s: value %q contains CR, LF or another control character; give one header per line", k, v)
			}
		}
	}
	return nil
}

// FailureReason says why no request succeeded: the most frequent transport
// error kind with its sample message, or the most frequent status code.
func (r *Result) FailureReason() string {
	kind, n := "", int64(0)
	for k, v := range r.TransportErrors {
		if v > n || (v == n && k < kind) {
			kind, n = k, v
		}
	}
	if kind != "" {
		if msg := r.ErrorSamples[kind]; msg != "" {
			return fmt.Sprintf("%d × %s: %s", n, kind, msg)
		}
		return fmt.Sprintf("%d × %s", n, kind)
	}
	code, n := "", int64(0)
	for k, v := range r.StatusCodes {
		if v > n || (v == n && k < code) {
			code, n = k, v
		}
	}
	if code != "" {
		return fmt.Sprintf("%d × HTTP %s", n, code)
	}
	return ""
}
