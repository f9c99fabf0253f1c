// Command upstream is a tiny, fast stand-in model server used as the common
// upstream when the exporter proxy is benchmarked (see bench/exporter.sh).
//
// It speaks just enough of the MLflow scoring protocol (POST /invocations,
// GET /ping, /health, /version) and of the TF Serving REST API
// (GET /v1/models/NAME, POST /v1/models/NAME:predict) to be proxied, and
// answers one prediction per input row: {"predictions":[0,1,0,...]}.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"strings"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:18080", "listen address")
	flag.Parse()

	mux := http.NewServeMux()
	mux.HandleFunc("/invocations", predict)
	mux.HandleFunc("/v1/models/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ":predict") {
			predict(w, r)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/v1/models/")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"model_version_status":[{"version":"1","state":"AVAILABLE","status":{"error_code":"OK","error_message":""}}],"name":` + quote(name) + `}`))
	})
	ok := func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("\n")) }
	mux.HandleFunc("/ping", ok)
	mux.HandleFunc("/health", ok)
	mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("bench-upstream\n")) })
	log.Printf("upstream listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, mux))
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// predict decodes a JSON body the way a real scoring server would, counts the
// input rows and answers one alternating 0/1 prediction per row.
func predict(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	var in map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error_code":"BAD_REQUEST","message":"invalid json"}`))
		return
	}
	rows := 1
	for _, k := range []string{"instances", "inputs", "dataframe_records"} {
		var a []json.RawMessage
		if json.Unmarshal(in[k], &a) == nil && len(a) > 0 {
			rows = len(a)
		}
	}
	var split struct{ Data []json.RawMessage }
	if json.Unmarshal(in["dataframe_split"], &split) == nil && len(split.Data) > 0 {
		rows = len(split.Data)
	}
	out := make([]int, rows)
	for i := range out {
		out[i] = i % 2
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"predictions": out})
}
