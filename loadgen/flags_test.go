package loadgen

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestParseHeaders(t *testing.T) {
	cases := []struct {
		name    string
		lines   []string
		want    http.Header
		wantErr string
	}{
		{"one", []string{"X-Api-Key: k1"}, http.Header{"X-Api-Key": {"k1"}}, ""},
		{"canonical and repeated", []string{"x-a: 1", "X-A:2", "Authorization:  Bearer t "}, http.Header{"X-A": {"1", "2"}, "Authorization": {"Bearer t"}}, ""},
		{"empty value", []string{"X-Empty:"}, http.Header{"X-Empty": {""}}, ""},
		{"value with colon", []string{"X-Url: http://a:1/"}, http.Header{"X-Url": {"http://a:1/"}}, ""},
		{"no colon", []string{"X-A 1"}, nil, `want "Name: value"`},
		{"CRLF in value", []string{"X-A: 1\r\nX-Injected: 2"}, nil, "contains CR, LF"},
		{"LF in value", []string{"X-A: 1\nX-B: 2"}, nil, "contains CR, LF"},
		{"CR in value", []string{"X-A: 1\r2"}, nil, "contains CR, LF"},
		{"NUL in value", []string{"X-A: 1\x002"}, nil, "control character"},
		{"space in name", []string{"X A: 1"}, nil, "not a valid HTTP token"},
		{"empty name", []string{": 1"}, nil, "not a valid HTTP token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseHeaders(tc.lines)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err=%v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	cases := []struct {
		url, wantErr string
	}{
		{"http://127.0.0.1:8000/predict", ""},
		{"https://example.com", ""},
		{"127.0.0.1:8000/predict", "has no scheme: write http://127.0.0.1:8000/predict (or https://)"},
		{"localhost:8000", "has no scheme: write http://localhost:8000"},
		{"example.com/predict", "has no scheme: write http://example.com/predict"},
		{"//example.com/x", "write http://example.com/x"},
		{"ftp://example.com", `scheme must be http or https, got "ftp"`},
		{"http://", "has no host"},
		{"", "no target URL"},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			_, err := CheckURL(tc.url)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err=%v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestFailureReason(t *testing.T) {
	cases := []struct {
		name string
		res  Result
		want string
	}{
		{"transport first", Result{TransportErrors: map[string]int64{KindTLS: 5, KindTimeout: 1}, ErrorSamples: map[string]string{KindTLS: "x509: unknown authority; pass --insecure"}, StatusCodes: map[string]int64{"500": 9}},
			"5 × tls: x509: unknown authority; pass --insecure"},
		{"status", Result{StatusCodes: map[string]int64{"500": 9, "404": 1}}, "9 × HTTP 500"},
		{"nothing", Result{}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.res.FailureReason(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
