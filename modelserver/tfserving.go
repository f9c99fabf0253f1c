package modelserver

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stackgen/stackgen/model"
)

// writeTFError writes TF Serving's REST error body, {"error": msg}.
func writeTFError(w http.ResponseWriter, code int, msg string) {
	b, err := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	if err != nil {
		b = []byte(`{"error":"cannot encode error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		writeTFError(w, http.StatusInternalServerError, "encode answer: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(b, '\n'))
}

// versionStatus is one element of TF Serving's model_version_status.
type versionStatus struct {
	Version string `json:"version"`
	State   string `json:"state"`
	Status  struct {
		ErrorCode    string `json:"error_code"`
		ErrorMessage string `json:"error_message"`
	} `json:"status"`
}

func (s *Server) versionStatus() []versionStatus {
	v := versionStatus{Version: s.version, State: "AVAILABLE"}
	v.Status.ErrorCode = StatusOK
	return []versionStatus{v}
}

// tfRoute is a parsed /v1/models/... path.
type tfRoute struct {
	name     string
	version  string // "" for the latest
	metadata bool
	verb     string // "predict", "classify", ... or ""
}

// parseTFPath parses the part of the path after /v1/models:
// "/NAME[/versions/N][/metadata]" or "/NAME[/versions/N]:VERB".
func parseTFPath(rest string) (tfRoute, bool) {
	var rt tfRoute
	rest = strings.TrimPrefix(rest, "/")
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.Contains(rest[i:], "/") {
		rt.verb = rest[i+1:]
		rest = rest[:i]
	}
	seg := strings.Split(rest, "/")
	if seg[0] == "" {
		return rt, false
	}
	rt.name, seg = seg[0], seg[1:]
	if len(seg) >= 2 && seg[0] == "versions" {
		if _, err := strconv.ParseInt(seg[1], 10, 64); err != nil {
			return rt, false
		}
		rt.version, seg = seg[1], seg[2:]
	}
	if len(seg) == 1 && seg[0] == "metadata" && rt.verb == "" {
		rt.metadata, seg = true, nil
	}
	return rt, len(seg) == 0
}

// tfServing serves the TF Serving REST API under /v1/models.
func (s *Server) tfServing(w http.ResponseWriter, r *http.Request, rest string) {
	malformed := func() {
		writeTFError(w, http.StatusNotFound, "Malformed request: "+r.Method+" "+r.URL.Path)
	}
	if rest == "" || rest == "/" {
		if r.Method != http.MethodGet {
			malformed()
			return
		}
		writeJSON(w, map[string]any{"models": []any{map[string]any{
			"name": s.name, "model_version_status": s.versionStatus(),
		}}})
		return
	}
	rt, ok := parseTFPath(rest)
	if !ok {
		malformed()
		return
	}
	if rt.verb != "" {
		if r.Method != http.MethodPost {
			malformed()
			return
		}
		switch rt.verb {
		case "predict":
			s.tfPredict(w, r, rt)
		case "classify", "regress":
			start := time.Now()
			label := s.name
			if rt.name != s.name {
				label = UnknownModelLabel
			}
			s.record(label, rt.verb, StatusInvalidArgument, start)
			writeTFError(w, http.StatusBadRequest, "Expected "+rt.verb+" signature method_name to be tensorflow/serving/"+rt.verb+
				". Was: tensorflow/serving/predict (this model server supports :predict only)")
		default:
			malformed()
		}
		return
	}
	if r.Method != http.MethodGet {
		malformed()
		return
	}
	if rt.name != s.name {
		writeTFError(w, http.StatusNotFound, "Could not find any versions of model "+rt.name)
		return
	}
	if rt.version != "" && rt.version != s.version {
		writeTFError(w, http.StatusNotFound, "Could not find version "+rt.version+" of model "+rt.name)
		return
	}
	if rt.metadata {
		writeJSON(w, s.metadata(rt.version))
		return
	}
	writeJSON(w, map[string]any{"model_version_status": s.versionStatus()})
}

// tfPredict serves POST /v1/models/NAME[/versions/N]:predict. The answer
// holds, per row, the probabilities of the two classes in the order of the
// model's classes, as a float32 tensor of shape [rows, 2]:
// {"predictions":[[p0,p1],...]} for the row format ("instances") and
// {"outputs":[[p0,p1],...]} for the columnar format ("inputs"), which is
// what TF Serving returns for a single-output classifier signature.
func (s *Server) tfPredict(w http.ResponseWriter, r *http.Request, rt tfRoute) {
	start := time.Now()
	if rt.name != s.name {
		s.record(UnknownModelLabel, "predict", StatusNotFound, start)
		writeTFError(w, http.StatusNotFound, "Servable not found for request: Latest("+rt.name+")")
		return
	}
	if rt.version != "" && rt.version != s.version {
		s.record(s.name, "predict", StatusNotFound, start)
		writeTFError(w, http.StatusNotFound, "Servable not found for request: Specific("+rt.name+", "+rt.version+")")
		return
	}
	release, ok := s.acquire(r)
	if !ok {
		s.record(s.name, "predict", StatusUnavailable, start)
		writeTFError(w, http.StatusServiceUnavailable, "Too many requests in flight (limits: "+strconv.Itoa(s.cfg.MaxConcurrent)+
			" requests, "+strconv.FormatInt(s.cfg.MaxInflightBytes, 10)+" body bytes)")
		return
	}
	defer release()
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	bp, err := s.readBody(w, r)
	if err != nil {
		code, label := bodyError(err)
		s.record(s.name, "predict", label, start)
		if code == http.StatusRequestTimeout {
			w.Header().Set("Connection", "close")
		}
		writeTFError(w, code, err.Error())
		return
	}
	defer s.putBuf(bp)
	rows, columnar, err := model.ParseTFServing(s.model, *bp)
	if err != nil {
		s.record(s.name, "predict", StatusInvalidArgument, start)
		writeTFError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.delay(ctx); err != nil {
		if r.Context().Err() == nil { // our deadline, not the client's
			s.record(s.name, "predict", StatusDeadlineExceeded, start)
			writeTFError(w, http.StatusGatewayTimeout, "Request processing time exceeded limit ("+s.cfg.RequestTimeout.String()+")")
			return
		}
		s.record(s.name, "predict", StatusCancelled, start)
		writeTFError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if s.injectError() {
		s.record(s.name, "predict", StatusInternal, start)
		writeTFError(w, http.StatusInternalServerError, "injected error (error rate "+strconv.FormatFloat(s.cfg.ErrorRate, 'g', -1, 64)+")")
		return
	}
	out := (*bp)[:0]
	if columnar {
		out = append(out, `{"outputs":[`...)
	} else {
		out = append(out, `{"predictions":[`...)
	}
	for i, row := range rows {
		if i > 0 {
			out = append(out, ',')
		}
		p := float32(s.model.Probability(row))
		out = append(out, '[')
		out = strconv.AppendFloat(out, float64(1-p), 'g', -1, 32)
		out = append(out, ',')
		out = strconv.AppendFloat(out, float64(p), 'g', -1, 32)
		out = append(out, ']')
	}
	out = append(out, "]}"...)
	*bp = out
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
	s.record(s.name, "predict", StatusOK, start)
}

// metadata is a simplified GET /v1/models/NAME/metadata answer: the
// serving_default signature with one float input of shape [-1] per feature
// and a "probabilities" output of shape [-1, 2]. The stackgen extension
// "classes" lists the class labels in output order.
func (s *Server) metadata(version string) any {
	if version == "" {
		version = s.version
	}
	type dim struct {
		Size string `json:"size"`
		Name string `json:"name"`
	}
	type tensor struct {
		Dtype       string `json:"dtype"`
		TensorShape struct {
			Dim         []dim `json:"dim"`
			UnknownRank bool  `json:"unknown_rank"`
		} `json:"tensor_shape"`
		Name string `json:"name"`
	}
	mk := func(name string, dims ...string) tensor {
		t := tensor{Dtype: "DT_FLOAT", Name: name}
		for _, d := range dims {
			t.TensorShape.Dim = append(t.TensorShape.Dim, dim{Size: d})
		}
		return t
	}
	inputs := make(map[string]tensor, len(s.model.Features))
	for _, f := range s.model.Features {
		inputs[f] = mk("serving_default_"+f+":0", "-1")
	}
	return map[string]any{
		"model_spec": map[string]any{"name": s.name, "signature_name": "", "version": version},
		"metadata": map[string]any{"signature_def": map[string]any{
			"signature_def": map[string]any{"serving_default": map[string]any{
				"inputs":      inputs,
				"outputs":     map[string]tensor{"probabilities": mk("StatefulPartitionedCall:0", "-1", "2")},
				"method_name": "tensorflow/serving/predict",
			}},
		}},
		"classes": s.model.Classes,
	}
}
