package commands

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/stackgen/stackgen/loadgen"
	"github.com/stackgen/stackgen/model"
	"github.com/stackgen/stackgen/stack"
)

func init() { register(newLoadCmd) }

// loadDefaultDuration is the run length when neither -n nor --duration is given.
const loadDefaultDuration = 10 * time.Second

type loadOpts struct {
	file        string
	url         string
	model       string
	requests    int64
	duration    time.Duration
	concurrency int
	rate        float64
	payload     string
	format      string
	contentType string
	errorRatio  float64
	shape       string
	spikeFactor float64
	output      string
	timeout     time.Duration
	maxWorkers  int
	httpClient  string
	headers     []string
	insecure    bool
	quiet       bool
	shifts      []string
	// note says where the bodies come from when they are sampled.
	note string
}

func newLoadCmd() *cobra.Command {
	o := &loadOpts{}
	cmd := &cobra.Command{
		Use:   "load [-f stack.yaml | --url URL] [-n N | --duration D] [-c CONCURRENCY] [--rate R]",
		Short: "Send inference traffic to a model (closed or open loop) and summarize latency",
		Long: `Send inference traffic and print requests, errors by status code, the request
rate and latency percentiles (p50/p90/p95/p99/max, from an HDR histogram).

Target: by default the /predict endpoint of the first model's exporter in
stack.yaml (-f, default ./stack.yaml), with the demo model's example payload;
--model picks another model, --url any other URL, --payload FILE another body
(content type from --content-type or the file extension).

Closed loop (default): -c workers send back to back, like wrk.
Open loop (--rate R): requests are due at R per second whatever the server
does, and latency is measured from each request's intended send time, so a
stalling server shows up in the percentiles (no coordinated omission, as in
wrk2 and vegeta). Workers grow on demand up to --max-workers.

Shapes (open loop, need --rate and --duration):
  steady  R requests per second throughout
  ramp    a linear climb from 5% of R to R over the duration
  spike   R until 60% of the duration, then --spike-factor×R (default 8) until
          90%, then R again: a burst well above 3× the 15-minute average

-H "Name: value" adds a request header (repeatable); values holding CR or LF
are refused. https:// targets verify the server's certificate; --insecure
skips that for a test server with a self-signed certificate.

--error-ratio X sends the demo model's invalid payload for a fraction X of the
requests, spread evenly, to exercise error-rate alerts.

When the model has drift configured in stack.yaml (models[].drift) and no
--payload is given, the rows are sampled from its baseline: 1,024 bodies of two
rows each are generated before the run (every feature drawn bin by bin with the
baseline's shares, so the PSI of calm traffic is about 0) and sent in turn.
--shift drifts one feature of those rows, so a demo can show the drift alert
(repeatable, one per feature):
  FEATURE=+2sd   add 2 training standard deviations (numeric; -1sd moves down)
  FEATURE=*1.5   multiply by 1.5 (numeric)
  FEATURE=VALUE  every row gets VALUE (a category, or a number)

Without -n or --duration the run lasts 10s. Ctrl-C stops and prints the
summary so far. Exit status 1 when no request succeeded, 2 for bad flags.`,
		Example: `  stackgen load --duration 1m -c 8
  stackgen load --rate 50 --duration 20m --shape spike
  stackgen load --url http://127.0.0.1:8000/predict --payload req.json -n 10000 --output json
  stackgen load --url https://model.example.com/invocations -H "Authorization: Bearer $TOKEN"
  stackgen load --rate 20 --error-ratio 0.2 --duration 5m
  stackgen load -f stack.yaml --rate 20 --duration 15m --shift age=+2sd`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runLoad(cmd, o) },
	}
	f := cmd.Flags()
	f.StringVarP(&o.file, "file", "f", "", "stack.yaml to take the target from (default ./stack.yaml when --url is not given)")
	f.StringVar(&o.url, "url", "", "target URL instead of a stack's exporter")
	f.StringVar(&o.model, "model", "", "model of the stack to load (default the first)")
	f.Int64VarP(&o.requests, "requests", "n", 0, "stop after N requests")
	f.DurationVarP(&o.duration, "duration", "d", 0, "stop after this long (default 10s when -n is not given)")
	f.IntVarP(&o.concurrency, "concurrency", "c", loadgen.DefaultConcurrency, "closed-loop workers (connections); initial workers in open loop")
	f.Float64Var(&o.rate, "rate", 0, "open loop: requests per second (base rate of a spike, final rate of a ramp)")
	f.StringVar(&o.payload, "payload", "", "request body file (default the demo model's example)")
	f.StringVar(&o.format, "format", "", "example payload format passed to the demo model (default the model's default)")
	f.StringVar(&o.contentType, "content-type", "", "Content-Type of --payload (default from its extension)")
	f.Float64Var(&o.errorRatio, "error-ratio", 0, "fraction of requests sent with an invalid payload (0–1)")
	f.StringVar(&o.shape, "shape", "steady", "open-loop shape: steady, ramp or spike")
	f.Float64Var(&o.spikeFactor, "spike-factor", loadgen.DefaultSpikeFactor, "spike burst rate as a multiple of --rate")
	f.StringVarP(&o.output, "output", "o", "text", "summary format: text or json")
	f.DurationVar(&o.timeout, "timeout", loadgen.DefaultTimeout, "per-request timeout")
	f.IntVar(&o.maxWorkers, "max-workers", loadgen.DefaultMaxWorkers, "open loop: upper bound on workers (connections)")
	f.StringVar(&o.httpClient, "http-client", "fast", "HTTP client for http:// targets: fast (fasthttp) or std (net/http)")
	f.StringArrayVarP(&o.headers, "header", "H", nil, `extra request header "Name: value" (repeatable)`)
	f.BoolVar(&o.insecure, "insecure", false, "skip TLS certificate verification (test servers with self-signed certificates)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress output")
	f.StringArrayVar(&o.shifts, "shift", nil, "drift a feature of the rows sampled from the model's drift baseline: FEATURE=+2sd, FEATURE=*1.5 or FEATURE=VALUE (repeatable)")
	_ = f.MarkHidden("http-client")
	return cmd
}

func runLoad(cmd *cobra.Command, o *loadOpts) error {
	cfg, err := o.config(cmd)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	errOut := cmd.ErrOrStderr()
	if o.note != "" && !o.quiet {
		fmt.Fprintln(errOut, o.note)
	}
	prog := newProgressPrinter(errOut, o.quiet)
	if !o.quiet {
		cfg.Progress = prog.update
		cfg.ProgressInterval = 500 * time.Millisecond
	}

	res, err := loadgen.Run(ctx, cfg)
	prog.finish()
	if err != nil {
		return exitf(2, "load: %w", err)
	}
	out := cmd.OutOrStdout()
	if o.output == "json" {
		err = res.WriteJSON(out)
	} else {
		err = res.WriteText(out)
	}
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if res.Successes == 0 {
		if why := res.FailureReason(); why != "" {
			return exitf(1, "load: no request succeeded (%d sent): %s", res.Requests, why)
		}
		return exitf(1, "load: no request succeeded (%d sent)", res.Requests)
	}
	return nil
}

// config turns the flags into a loadgen.Config, reading stack.yaml and the payload.
func (o *loadOpts) config(cmd *cobra.Command) (loadgen.Config, error) {
	var cfg loadgen.Config
	if o.output != "text" && o.output != "json" {
		return cfg, exitf(2, "load: --output must be text or json, got %q", o.output)
	}
	if cmd.Flags().Changed("requests") && cmd.Flags().Changed("duration") {
		return cfg, exitf(2, "load: give -n or --duration, not both")
	}
	if o.requests < 0 || o.duration < 0 {
		return cfg, exitf(2, "load: -n and --duration must not be negative")
	}
	if o.concurrency <= 0 {
		return cfg, exitf(2, "load: -c must be at least 1, got %d", o.concurrency)
	}
	if o.rate < 0 {
		return cfg, exitf(2, "load: --rate must not be negative, got %g", o.rate)
	}
	if o.errorRatio < 0 || o.errorRatio > 1 {
		return cfg, exitf(2, "load: --error-ratio must be within 0 and 1, got %g", o.errorRatio)
	}
	shape, err := loadgen.ParseShape(o.shape)
	if err != nil {
		return cfg, exitf(2, "load: --shape: %w", err)
	}
	if shape != loadgen.ShapeSteady && o.rate == 0 {
		return cfg, exitf(2, "load: --shape %s shapes an open-loop rate: give --rate R (the %s)", shape, shapeRateMeaning(shape))
	}
	if o.httpClient != "fast" && o.httpClient != "std" {
		return cfg, exitf(2, "load: --http-client must be fast or std, got %q", o.httpClient)
	}
	headers, err := loadgen.ParseHeaders(o.headers)
	if err != nil {
		return cfg, exitf(2, "load: -H/--header: %w", err)
	}
	duration := o.duration
	if o.requests == 0 && duration == 0 {
		duration = loadDefaultDuration
	}
	if shape != loadgen.ShapeSteady && duration == 0 {
		return cfg, exitf(2, "load: --shape %s spreads over the run's duration: give --duration instead of -n", shape)
	}

	target, m, err := o.target()
	if err != nil {
		return cfg, err
	}
	protocol := ""
	if m != nil {
		protocol = m.Protocol
	}
	var (
		body   []byte
		bodies [][]byte
		ctype  string
	)
	if m != nil && m.DriftEnabled() && o.payload == "" {
		bodies, ctype, err = o.sampled(m)
	} else {
		if len(o.shifts) > 0 {
			return cfg, exitf(2, "load: --shift drifts rows sampled from a model's drift baseline: %s", o.whyNoSampling(m))
		}
		body, ctype, err = o.body(protocol)
	}
	if err != nil {
		return cfg, err
	}
	cfg = loadgen.Config{
		URL:         target,
		Headers:     headers,
		Body:        body,
		Bodies:      bodies,
		ContentType: ctype,
		ErrorRatio:  o.errorRatio,
		Requests:    o.requests,
		Duration:    duration,
		Concurrency: o.concurrency,
		Rate:        o.rate,
		Shape:       shape,
		SpikeFactor: o.spikeFactor,
		MaxWorkers:  o.maxWorkers,
		Timeout:     o.timeout,
		Insecure:    o.insecure,
		StdClient:   o.httpClient == "std",
	}
	if o.timeout == 0 {
		cfg.Timeout = -1 // no timeout
	}
	if o.errorRatio > 0 {
		cfg.InvalidBody, cfg.InvalidContentType = model.InvalidExample()
	}
	return cfg, nil
}

func shapeRateMeaning(s loadgen.Shape) string {
	if s == loadgen.ShapeRamp {
		return "rate the ramp climbs to"
	}
	return "base rate the spike bursts from"
}

// target resolves the URL: --url, or the chosen model's exporter /predict in
// stack.yaml. It also returns the model (nil with --url).
func (o *loadOpts) target() (url string, m *stack.Model, err error) {
	if o.url != "" {
		if o.file != "" {
			return "", nil, exitf(2, "load: give -f or --url, not both")
		}
		if o.model != "" {
			return "", nil, exitf(2, "load: --model picks a model of stack.yaml; it cannot be used with --url")
		}
		if _, err := loadgen.CheckURL(o.url); err != nil {
			return "", nil, exitf(2, "load: --url: %w", err)
		}
		return o.url, nil, nil
	}
	path := o.file
	if path == "" {
		path = "stack.yaml"
		if _, err := os.Stat(path); err != nil {
			return "", nil, exitf(2, "load: no target: pass --url URL, or -f stack.yaml (there is no ./stack.yaml)")
		}
	}
	st, err := loadStack(path)
	if err != nil {
		var probs stack.Problems
		if errors.As(err, &probs) || errors.Is(err, fs.ErrNotExist) {
			return "", nil, exitf(2, "load: %w", err) // bad input, like a bad flag
		}
		return "", nil, fmt.Errorf("load: %w", err)
	}
	if len(st.Models) == 0 {
		return "", nil, exitf(2, "load: %s declares no model", path)
	}
	m = &st.Models[0]
	if o.model != "" {
		if m = st.Model(o.model); m == nil {
			names := make([]string, len(st.Models))
			for i := range st.Models {
				names[i] = st.Models[i].Name
			}
			return "", nil, exitf(2, "load: %s has no model %q (models: %s)", path, o.model, strings.Join(names, ", "))
		}
	}
	return st.PredictURL(*m), m, nil
}

// whyNoSampling says why the rows of this run are not sampled from a
// baseline (m is nil with --url).
func (o *loadOpts) whyNoSampling(m *stack.Model) string {
	switch {
	case m == nil:
		return "use -f stack.yaml with a model that has drift configured instead of --url"
	case o.payload != "":
		return "it cannot be used with --payload"
	default:
		return fmt.Sprintf("model %q has no drift configured; add `drift: {}` (kind demo) or `drift: {baseline: FILE}` to it in stack.yaml", m.Name)
	}
}

// sampled pre-generates the bodies of a model with drift: rows sampled from
// its baseline (shifted by --shift), columns it does not profile taken from
// the demo model's example row, in MLflow's dataframe_split or, for TF
// Serving, the instances row format.
func (o *loadOpts) sampled(m *stack.Model) ([][]byte, string, error) {
	format := o.format
	if format == "" {
		format = loadgen.SampleDataframeSplit
		if m.Protocol == stack.ProtocolTFServing {
			format = loadgen.SampleInstances
		}
	}
	if format != loadgen.SampleDataframeSplit && format != loadgen.SampleInstances {
		return nil, "", exitf(2, "load: --format %s: rows sampled from model %q's drift baseline are sent as %s or %s", format, m.Name,
			loadgen.SampleDataframeSplit, loadgen.SampleInstances)
	}
	var shifts []loadgen.Shift
	for _, s := range o.shifts {
		sh, err := loadgen.ParseShift(s)
		if err != nil {
			return nil, "", exitf(2, "load: --shift %w", err)
		}
		shifts = append(shifts, sh)
	}
	example := map[string]float64{}
	dm := model.Default()
	row := model.ExampleRows(dm)[0]
	for i, name := range dm.Features {
		example[name] = row[i]
	}
	pool, err := loadgen.SamplePool(m.Drift.Baseline, loadgen.SampleOptions{Format: format, Example: example, Shifts: shifts, Seed: 1})
	if err != nil {
		return nil, "", exitf(2, "load: model %q: %w", m.Name, err)
	}
	ct := model.ContentTypeJSON
	if o.contentType != "" {
		ct = o.contentType
	}
	o.note = fmt.Sprintf("load: %d %s bodies of rows sampled from model %q's drift baseline", len(pool), format, m.Name)
	if len(o.shifts) > 0 {
		o.note += ", shifted: " + strings.Join(o.shifts, " ")
	}
	return pool, ct, nil
}

// body returns the request body and its content type: --payload, or the
// demo model's example (in the TF Serving row format for a tfserving model).
func (o *loadOpts) body(protocol string) ([]byte, string, error) {
	if o.payload == "" {
		format := o.format
		if format == "" && protocol == stack.ProtocolTFServing {
			format = model.FormatInstances
		}
		b, ct, err := model.Example(model.Default(), format)
		if err != nil {
			return nil, "", exitf(2, "load: example payload: %w", err)
		}
		if o.contentType != "" {
			ct = o.contentType
		}
		return b, ct, nil
	}
	if o.format != "" {
		return nil, "", exitf(2, "load: --format chooses the example payload; it cannot be used with --payload")
	}
	b, err := os.ReadFile(o.payload)
	if err != nil {
		return nil, "", exitf(2, "load: --payload: %w (give the file with the request body, or leave --payload out to send the demo model's example)", err)
	}
	ct := o.contentType
	if ct == "" {
		ct = contentTypeFor(o.payload)
	}
	return b, ct, nil
}

// contentTypeFor guesses a payload's content type from its extension.
func contentTypeFor(path string) string {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".json":
		return "application/json"
	case ".csv":
		return "text/csv"
	case ".txt", "":
		return "text/plain"
	default:
		if t := mime.TypeByExtension(ext); t != "" {
			return t
		}
	}
	return "application/octet-stream"
}

// progressPrinter shows a live \r-updated line on a terminal, or a plain
// line every 5 seconds otherwise.
type progressPrinter struct {
	w       io.Writer
	tty     bool
	quiet   bool
	n       int
	written bool
	width   int
}

func newProgressPrinter(w io.Writer, quiet bool) *progressPrinter {
	p := &progressPrinter{w: w, quiet: quiet}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

func (p *progressPrinter) update(s loadgen.Progress) {
	if p.quiet {
		return
	}
	p.n++
	line := fmt.Sprintf("%6.1fs  %d requests  %.0f req/s  %d errors  p99 %.2f ms",
		s.Elapsed.Seconds(), s.Requests, s.RPS, s.Errors, s.P99)
	if s.Workers > 0 {
		line += fmt.Sprintf("  %d workers", s.Workers)
	}
	if p.tty {
		pad := ""
		if d := p.width - len(line); d > 0 {
			pad = strings.Repeat(" ", d)
		}
		p.width = len(line)
		fmt.Fprint(p.w, "\r"+line+pad)
		p.written = true
		return
	}
	if p.n%10 == 0 { // every 5 s at the 500 ms tick
		fmt.Fprintln(p.w, line)
	}
}

// finish ends the live line so the summary starts on a fresh one.
func (p *progressPrinter) finish() {
	if p.written {
		fmt.Fprintln(p.w)
	}
}
