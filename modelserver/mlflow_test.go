package modelserver

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stackgen/stackgen/model"
)

// wire is one request sent over a real connection and the exact answer an
// MLflow 3.11 scoring server (FastAPI on uvicorn) gives to it, for a model
// logged with the demo model's signature (seven required double columns).
// The expectations follow MLflow's source: pyfunc/scoring_server/__init__.py
// (content types, 415 texts, error bodies), utils/proto_json_utils.py and
// models/utils.py (conversion and schema errors), Starlette/FastAPI (404,
// 405, HEAD, trailing-slash redirect).
type wire struct {
	name    string
	method  string
	path    string
	ct      string // Content-Type header; "-" sends none
	body    string
	status  int
	wantCT  string            // exact Content-Type of the answer
	exact   string            // exact body, or
	has     []string          // substrings of the body
	headers map[string]string // exact answer headers
}

// demoLists is the example rows as lists of lists.
const demoLists = `[[37.07,5322.78,5.48,2.52,0.31,9.71,2.6],[28.5,2784.37,0,1.4,0.78,18.16,4.37]]`

func runWire(t *testing.T, url string, cases []wire) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			req, err := http.NewRequest(method, url+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.ct != "-" {
				req.Header.Set("Content-Type", tc.ct)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body := string(b)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.status, body)
			}
			if got := resp.Header.Get("Content-Type"); tc.wantCT != "" && got != tc.wantCT {
				t.Fatalf("Content-Type %q, want %q", got, tc.wantCT)
			}
			if tc.exact != "" && body != tc.exact || tc.exact == "" && len(tc.has) == 0 && body != "" {
				t.Fatalf("body\n%q\nwant\n%q", body, tc.exact)
			}
			for _, h := range tc.has {
				if !strings.Contains(body, h) {
					t.Fatalf("body %q does not contain %q", body, h)
				}
			}
			for k, v := range tc.headers {
				if got := resp.Header.Get(k); got != strings.ReplaceAll(v, "HOST", req.Host) {
					t.Fatalf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestMLflowParity(t *testing.T) {
	srv := httptest.NewServer(New(Config{}))
	defer srv.Close()
	const (
		ok       = `{"predictions": [0, 1]}`
		badReq   = `{"error_code": "BAD_REQUEST", "message": "`
		invalid  = `{"error_code": "INVALID_PARAMETER_VALUE", "message": "Failed to predict data '`
		types415 = "This predictor only supports the following content types: Types: ['text/csv', 'application/json']. Got '"
	)
	split := example(t, "dataframe_split")
	invalidBody, _ := model.InvalidExample()
	runWire(t, srv.URL, []wire{
		// answers
		{name: "dataframe_split", path: "/invocations", ct: jsonCT, body: split, status: 200, wantCT: jsonCT, exact: ok},
		{name: "dataframe_records", path: "/invocations", ct: jsonCT, body: example(t, "dataframe_records"), status: 200, wantCT: jsonCT, exact: ok},
		{name: "instances", path: "/invocations", ct: jsonCT, body: example(t, "instances"), status: 200, wantCT: jsonCT, exact: ok},
		{name: "inputs", path: "/invocations", ct: jsonCT, body: example(t, "inputs"), status: 200, wantCT: jsonCT, exact: ok},
		{name: "csv", path: "/invocations", ct: csvCT, body: example(t, "csv"), status: 200, wantCT: jsonCT, exact: ok},
		{name: "csv with charset", path: "/invocations", ct: "text/csv; charset=utf-8", body: example(t, "csv"), status: 200, exact: ok},
		{name: "json with upper-case charset value", path: "/invocations", ct: "application/json;charset=UTF-8", body: split, status: 200, exact: ok},
		{name: "params ignored", path: "/invocations", ct: jsonCT, body: `{"params":{"x":1},` + split[1:], status: 200, exact: ok},
		{name: "numbers as strings converted to double", path: "/invocations", ct: jsonCT,
			body:   `{"dataframe_records":[{"age":"37.07","monthly_income":"5322.78","years_at_company":"5.48","job_satisfaction":"2.52","overtime":"0.31","distance_from_home":"9.71","num_companies_worked":"2.6"}]}`,
			status: 200, exact: `{"predictions": [0]}`},
		// schema errors: 400 INVALID_PARAMETER_VALUE
		{name: "unknown column", path: "/invocations", ct: jsonCT, body: strings.Replace(split, `"age"`, `"agee"`, 1), status: 400, wantCT: jsonCT,
			has: []string{invalid, `Error: Model is missing inputs ['age']. Note that there were extra inputs: ['agee']"}`}},
		{name: "missing column", path: "/invocations", ct: jsonCT, body: `{"dataframe_split":{"columns":["age"],"data":[[30]]}}`, status: 400, wantCT: jsonCT,
			exact: `{"error_code": "INVALID_PARAMETER_VALUE", "message": "Failed to predict data '    age\n0  30.0'. \nError: Failed to enforce schema of data '    age\n0  30.0' with schema '['age': double (required), 'monthly_income': double (required), 'years_at_company': double (required), 'job_satisfaction': double (required), 'overtime': double (required), 'distance_from_home': double (required), 'num_companies_worked': double (required)]'. Error: Model is missing inputs ['monthly_income', 'years_at_company', 'job_satisfaction', 'overtime', 'distance_from_home', 'num_companies_worked']."}`},
		{name: "instances as lists of lists", path: "/invocations", ct: jsonCT, body: `{"instances":` + demoLists + `}`, status: 400, wantCT: jsonCT,
			has: []string{invalid, `Note that there were extra inputs: [0, 1, 2, 3, 4, 5, 6]"}`}},
		{name: "inputs as lists of lists", path: "/invocations", ct: jsonCT, body: `{"inputs":` + demoLists + `}`, status: 400,
			has: []string{invalid, "Model is missing inputs ['age', "}},
		{name: "csv missing column", path: "/invocations", ct: csvCT, body: "age\n1\n", status: 400, has: []string{invalid}},
		// malformed requests: 400 BAD_REQUEST
		{name: "string that is no number", path: "/invocations", ct: jsonCT, body: string(invalidBody), status: 400, wantCT: jsonCT,
			exact: `{"error_code": "BAD_REQUEST", "message": "Invalid input. could not convert string to float: 'not-a-number'"}`},
		{name: "invalid json", path: "/invocations", ct: jsonCT, body: `{`, status: 400, wantCT: jsonCT,
			exact: `{"error_code": "BAD_REQUEST", "message": "Invalid input. Ensure that input is a valid JSON formatted string. Error: 'JSONDecodeError('Expecting property name enclosed in double quotes: line 1 column 2 (char 1)')'\nInput: \nb'{'\n"}`},
		{name: "csv body as json", path: "/invocations", ct: jsonCT, body: example(t, "csv"), status: 400, has: []string{badReq + "Invalid input. Ensure that input is a valid JSON"}},
		{name: "no format key", path: "/invocations", ct: jsonCT, body: `{"data":[[1]]}`, status: 400,
			has: []string{badReq + "The input must be a JSON dictionary with exactly one of the input fields", "Received dictionary with input fields: []. IMPORTANT"}},
		{name: "null value", path: "/invocations", ct: jsonCT, body: strings.Replace(split, "37.07", "null", 1), status: 400,
			exact: badReq + `Encountered an unexpected error while evaluating the model. Verify that the serialized input Dataframe is compatible with the model for inference."}`},
		{name: "bad csv value", path: "/invocations", ct: csvCT, body: "age\nx\n", status: 400,
			has: []string{badReq + "Failed to parse input as a Pandas DataFrame.", "Error: 'could not convert string to float: 'x''"}},
		// content types: 415, text/plain
		{name: "text/plain", path: "/invocations", ct: "text/plain", body: "x", status: 415, wantCT: textPlain, exact: types415 + "text/plain'."},
		{name: "upper-case type", path: "/invocations", ct: "APPLICATION/JSON", body: split, status: 415, wantCT: textPlain, exact: types415 + "APPLICATION/JSON'."},
		{name: "other charset", path: "/invocations", ct: "application/json; charset=latin-1", body: split, status: 415, wantCT: textPlain,
			exact: "The scoring server only supports UTF-8"},
		{name: "quoted charset", path: "/invocations", ct: `text/csv; charset="utf-8"`, body: split, status: 415, exact: "The scoring server only supports UTF-8"},
		{name: "unknown parameter", path: "/invocations", ct: "application/json; format=pandas-split", body: split, status: 415, wantCT: textPlain,
			exact: "Unrecognized content type parameters: format. " + model.MLflowProtocolChangeInfo},
		{name: "empty parameter", path: "/invocations", ct: "application/json;", body: split, status: 415,
			exact: "Unrecognized content type parameters: . " + model.MLflowProtocolChangeInfo},
		{name: "charset checked before the type", path: "/invocations", ct: "text/html; charset=latin-1", body: "x", status: 415, exact: "The scoring server only supports UTF-8"},
		{name: "no content type", path: "/invocations", ct: "-", body: split, status: 415, exact: types415 + "None'."},
		// routes: FastAPI's answers
		{name: "GET /invocations", method: "GET", path: "/invocations", ct: "-", status: 405, wantCT: jsonCT,
			exact: `{"detail":"Method Not Allowed"}`, headers: map[string]string{"Allow": "POST"}},
		{name: "POST /ping", path: "/ping", ct: "-", status: 405, wantCT: jsonCT,
			exact: `{"detail":"Method Not Allowed"}`, headers: map[string]string{"Allow": "GET, HEAD"}},
		{name: "DELETE /version", method: "DELETE", path: "/version", ct: "-", status: 405, exact: `{"detail":"Method Not Allowed"}`},
		{name: "unknown path", method: "GET", path: "/nope", ct: "-", status: 404, wantCT: jsonCT, exact: `{"detail":"Not Found"}`},
		{name: "POST unknown path", path: "/predict", ct: jsonCT, body: split, status: 404, exact: `{"detail":"Not Found"}`},
		{name: "GET /ping", method: "GET", path: "/ping", ct: "-", status: 200, wantCT: jsonCT, exact: "\n",
			headers: map[string]string{"Content-Length": "1"}},
		{name: "GET /health", method: "GET", path: "/health", ct: "-", status: 200, wantCT: jsonCT, exact: "\n"},
		{name: "HEAD /ping", method: "HEAD", path: "/ping", ct: "-", status: 200, wantCT: jsonCT,
			headers: map[string]string{"Content-Length": "1"}},
		{name: "GET /version", method: "GET", path: "/version", ct: "-", status: 200, wantCT: jsonCT, exact: DefaultVersion},
		{name: "trailing slash redirects", method: "GET", path: "/ping/?x=1", ct: "-", status: 307,
			headers: map[string]string{"Location": "http://HOST/ping?x=1", "Content-Length": "0"}},
		{name: "trailing slash redirects POST", path: "/invocations/", ct: jsonCT, body: split, status: 307,
			headers: map[string]string{"Location": "http://HOST/invocations"}},
		// TF Serving keeps its own error shape
		{name: "TF error shape", path: "/v1/models/demo:predict", ct: jsonCT, body: `{"instances":[["x"]]}`, status: 400, wantCT: jsonCT,
			has: []string{`{"error":"instances: row 0`}},
		{name: "TF accepts lists of lists", path: "/v1/models/demo:predict", ct: jsonCT, body: `{"instances":` + demoLists + `}`, status: 200,
			has: []string{`{"predictions":[[`}},
	})
	// every MLflow error body is exactly {"error_code","message"}
	resp, err := http.Post(srv.URL+"/invocations", jsonCT, strings.NewReader(`{"instances":[["x"]]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || len(e) != 2 || e["error_code"] != "BAD_REQUEST" || e["message"] == "" {
		t.Fatalf("error body %v (%v)", e, err)
	}
}

func TestMLflowLimits(t *testing.T) {
	srv := httptest.NewServer(New(Config{MaxBodyBytes: 64, RequestTimeout: 50 * time.Millisecond, Latency: 2 * time.Second}))
	defer srv.Close()
	runWire(t, srv.URL, []wire{
		{name: "body over the limit", path: "/invocations", ct: jsonCT, body: example(t, "instances"), status: 413, wantCT: jsonCT,
			exact: `{"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "request body too large: 324 bytes, limit 64"}`},
		{name: "invalid requests are not delayed", path: "/invocations", ct: jsonCT, body: `{"inputs":[1]}`,
			status: 400, has: []string{"INVALID_PARAMETER_VALUE"}},
		{name: "TF body over the limit", path: "/v1/models/demo:predict", ct: jsonCT, body: example(t, "instances"), status: 413, has: []string{`{"error":"request body too large`}},
	})
	small := New(Config{RequestTimeout: 50 * time.Millisecond, Latency: 2 * time.Second})
	srv2 := httptest.NewServer(small)
	defer srv2.Close()
	runWire(t, srv2.URL, []wire{
		{name: "over the request timeout", path: "/invocations", ct: jsonCT, body: example(t, "instances"), status: 504, wantCT: jsonCT,
			exact: "Request processing time exceeded limit"},
		{name: "TF over the request timeout", path: "/v1/models/demo:predict", ct: jsonCT, body: example(t, "instances"), status: 504,
			exact: `{"error":"Request processing time exceeded limit (50ms)"}`},
	})
	if got := scrape(t, small)[`:tensorflow:serving:request_count{model_name="demo",status="DEADLINE_EXCEEDED"}`]; got != 2 {
		t.Fatalf("DEADLINE_EXCEEDED count %v, want 2", got)
	}
}

// TestMaxConcurrent fills the only predict slot with a slow request; the
// next one is refused at once, as uvicorn does above --limit-concurrency.
func TestMaxConcurrent(t *testing.T) {
	s := New(Config{MaxConcurrent: 1, Latency: 500 * time.Millisecond})
	srv := httptest.NewServer(s)
	defer srv.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		resp, err := http.Post(srv.URL+"/invocations", jsonCT, strings.NewReader(example(t, "instances")))
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("first request: %d", resp.StatusCode)
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(s.slots) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	runWire(t, srv.URL, []wire{
		{name: "MLflow over the limit", path: "/invocations", ct: jsonCT, body: example(t, "instances"), status: 503, wantCT: textPlain, exact: "Service Unavailable"},
		{name: "TF over the limit", path: "/v1/models/demo:predict", ct: jsonCT, body: example(t, "instances"), status: 503,
			exact: `{"error":"Too many requests in flight (limits: 1 requests, 16777216 body bytes)"}`},
		{name: "health is not limited", method: "GET", path: "/ping", ct: "-", status: 200, exact: "\n"},
	})
	wg.Wait()
	// the slot is free again (negative control)
	runWire(t, srv.URL, []wire{{name: "after", path: "/invocations", ct: jsonCT, body: example(t, "instances"), status: 200, exact: wantLabels}})
	if got := scrape(t, s)[`:tensorflow:serving:request_count{model_name="demo",status="UNAVAILABLE"}`]; got != 2 {
		t.Fatalf("UNAVAILABLE count %v, want 2", got)
	}
}

// TestBodyReadDeadline sends the headers and part of a body, then stalls:
// the server answers 408 in MLflow's error shape and closes the connection.
// The same request with the whole body is answered (negative control).
func TestBodyReadDeadline(t *testing.T) {
	s := New(Config{BodyReadTimeout: 200 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Serve(ctx, ln) }()
	body := example(t, "instances")
	for _, tc := range []struct {
		name   string
		send   string
		status int
		has    string
	}{
		{"stalled body", body[:10], 408, `{"error_code": "DEADLINE_EXCEEDED", "message": "request body not received in time: 10 bytes read within 200ms"}`},
		{"whole body", body, 200, wantLabels},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			start := time.Now()
			if _, err := io.WriteString(c, "POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "+
				strconv.Itoa(len(body))+"\r\n\r\n"+tc.send); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.has) {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
			if tc.status == 408 && (!resp.Close || time.Since(start) > 3*time.Second) {
				t.Fatalf("close %v after %v", resp.Close, time.Since(start))
			}
		})
	}
}

func TestAppendPyJSONString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`plain`, `"plain"`},
		{"a\"b\\c\n\r\t\b\f\x01\x7f", `"a\"b\\c\n\r\t\b\f\u0001\u007f"`},
		{"</script>&'", `"</script>&'"`},
		{"déjà vu €", `"d\u00e9j\u00e0 vu \u20ac"`},
		{"😀", `"\ud83d\ude00"`},
	} {
		if got := string(appendPyJSONString(nil, tc.in)); got != tc.want {
			t.Errorf("appendPyJSONString(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestInflightBytes holds a slow request of 324 bytes with a budget of 500
// body bytes: a second one of the same size is refused, a small one passes.
func TestInflightBytes(t *testing.T) {
	s := New(Config{MaxInflightBytes: 500, Latency: 500 * time.Millisecond})
	srv := httptest.NewServer(s)
	defer srv.Close()
	body := example(t, "instances")
	done := make(chan int, 1)
	go func() {
		resp, err := http.Post(srv.URL+"/invocations", jsonCT, strings.NewReader(body))
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(s.slots) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	runWire(t, srv.URL, []wire{
		{name: "over the byte budget", path: "/invocations", ct: jsonCT, body: body, status: 503, exact: "Service Unavailable"},
		{name: "within the byte budget", path: "/invocations", ct: jsonCT, body: `{"instances":[]}`, status: 400, has: []string{"INVALID_PARAMETER_VALUE"}},
	})
	if code := <-done; code != 200 {
		t.Fatalf("first request: %d", code)
	}
	runWire(t, srv.URL, []wire{{name: "budget given back", path: "/invocations", ct: jsonCT, body: body, status: 200, exact: wantLabels}})
}

// TestBodyDeadlineEndsWithTheBody: the body read deadline must not cut a
// request whose handling (here the artificial latency) outlasts it.
func TestBodyDeadlineEndsWithTheBody(t *testing.T) {
	s := New(Config{BodyReadTimeout: 100 * time.Millisecond, Latency: 400 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Serve(ctx, ln) }()
	url := "http://" + ln.Addr().String()
	runWire(t, url, []wire{
		{name: "MLflow", path: "/invocations", ct: jsonCT, body: example(t, "instances"), status: 200, exact: wantLabels},
		{name: "TF", path: "/v1/models/demo:predict", ct: jsonCT, body: example(t, "instances"), status: 200, has: []string{`{"predictions":[[`}},
	})
}
