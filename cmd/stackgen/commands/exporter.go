package commands

import (
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackgen/stackgen/baseline"
	"github.com/stackgen/stackgen/exporter"
)

func init() { register(newExporterCmd) }

// newExporterCmd builds `stackgen exporter`, the inference proxy and
// Prometheus exporter that runs in the stack's exporter container.
func newExporterCmd() *cobra.Command {
	var (
		cfg      exporter.Config
		kind     string
		buckets  string
		baseFile string
	)
	cmd := &cobra.Command{
		Use:   "exporter --upstream URL --kind mlflow|tfserving|custom",
		Short: "Run the inference proxy that exports Prometheus metrics for a model server",
		Long: `Run the inference proxy and Prometheus exporter in front of a model server.

POST /predict is forwarded to the kind's predict endpoint (mlflow: /invocations,
tfserving: /v1/models/NAME:predict, custom: --predict-path); every other path
except /metrics, /healthz and /readyz is forwarded unchanged. /readyz is 200 only
while the upstream answers its health path (mlflow: /ping, tfserving:
/v1/models/NAME, custom: --health-path).

Faults: upstream refused or broken answer -> 502, upstream timeout -> 504, body
over --max-body -> 413, body not received within --body-timeout -> 408, more
than --max-in-flight requests at once -> 503 with Retry-After (checked before
the body is read; /metrics, /healthz and /readyz are never refused), each
counted (upstream_failures_total{cause}, http_request_rejected_total{reason}).
A client that leaves before the answer cancels the upstream request; it is
counted as code="499" and upstream_failures_total{cause="client_gone"}. Errors
the exporter writes itself use the upstream protocol's shape: MLflow
{"error_code": "...", "message": "..."}, TF Serving and custom {"error": "..."}.
Streamed answers (chunked, text/event-stream) are passed on as they arrive.
Drift: --baseline FILE (a stackgen/baseline/v1 file, made by stackgen
baseline; stackgen render passes it for models with drift configured) counts
every input row's feature values into the baseline's bins
(model_feature_bin_total{feature,bin}, model_feature_missing_total{feature},
model_feature_out_of_range_total{feature}, all created at 0), exports the
expected shares (model_feature_baseline_ratio{feature,bin},
model_prediction_baseline_ratio{class}) and observes predictions
(model_prediction_value for value baselines, model_prediction_confidence for
class-probability answers). Prometheus computes PSI from them. Label values
come only from the file, so cardinality is bounded.

SIGTERM or SIGINT stops accepting, drains in-flight requests and exits 0.

Exit codes: 0 after a clean shutdown, 2 on invalid flags, 1 when the listener
cannot be opened or the drain times out.`,
		Example: `  stackgen exporter --upstream http://model:8080 --kind mlflow
  stackgen exporter --listen :8000 --upstream http://tfserving:8501 --kind tfserving --model-name diabetes-prediction
  stackgen exporter --upstream http://model:8080 --kind mlflow --baseline /etc/stackgen/baseline.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Kind = exporter.Kind(strings.ToLower(kind))
			b, err := exporter.ParseBuckets(buckets)
			if err != nil {
				return exitf(2, "--buckets: %v", err)
			}
			cfg.Buckets = b
			if baseFile != "" {
				bl, err := baseline.Load(baseFile)
				if err != nil {
					return exitf(2, "--baseline: %v", err)
				}
				cfg.Baseline = bl
			}
			if cfg.Timeout <= 0 {
				return exitf(2, "--timeout must be positive")
			}
			if cfg.MaxBody <= 0 {
				return exitf(2, "--max-body must be positive")
			}
			if cfg.BodyTimeout <= 0 {
				return exitf(2, "--body-timeout must be positive")
			}
			if cfg.MaxInFlight <= 0 {
				return exitf(2, "--max-in-flight must be positive")
			}
			stderr := cmd.ErrOrStderr()
			cfg.Logf = func(format string, a ...any) {
				fmt.Fprintf(stderr, time.Now().Format(time.RFC3339)+" "+format+"\n", a...)
			}
			e, err := exporter.New(cfg)
			if err != nil {
				return exitf(2, "%v", err)
			}
			// The proxy's heap is tiny and allocation-bound: trading a little
			// memory for fewer GC cycles is a clear win unless GOGC is set.
			if os.Getenv("GOGC") == "" {
				debug.SetGCPercent(400)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			if err := e.Run(ctx); err != nil {
				return exitf(1, "exporter: %v", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", exporter.DefaultListen, "address to listen on")
	f.StringVar(&cfg.Upstream, "upstream", "", "model server base URL, e.g. http://model:8080 (required)")
	f.StringVar(&kind, "kind", "", "upstream protocol: mlflow, tfserving or custom (required)")
	f.StringVar(&cfg.ModelName, "model-name", "", "TF Serving model name (required for --kind tfserving)")
	f.StringVar(&cfg.PredictPath, "predict-path", "", "upstream path POST /predict goes to (required for --kind custom)")
	f.StringVar(&cfg.HealthPath, "health-path", exporter.DefaultHealthPath, "upstream path /readyz probes with GET (--kind custom)")
	f.StringVar(&buckets, "buckets", joinFloats(exporter.DefaultBuckets), "latency histogram buckets, comma-separated seconds")
	f.DurationVar(&cfg.Timeout, "timeout", exporter.DefaultTimeout, "upstream request timeout")
	f.Int64Var(&cfg.MaxBody, "max-body", exporter.DefaultMaxBody, "largest accepted request body in bytes (larger: 413)")
	f.DurationVar(&cfg.BodyTimeout, "body-timeout", exporter.DefaultBodyTimeout, "longest time to receive a request body (slower: 408)")
	f.IntVar(&cfg.MaxInFlight, "max-in-flight", exporter.DefaultMaxInFlight, "most forwarded requests served at once (more: 503 with Retry-After)")
	f.DurationVar(&cfg.IdleConnTimeout, "idle-conn-timeout", exporter.DefaultIdleConnTimeout, "close upstream connections idle this long")
	f.IntVar(&cfg.MaxClasses, "max-classes", exporter.DefaultMaxClasses, "distinct class labels of model_predictions_total before folding into \"other\"")
	f.StringVar(&baseFile, "baseline", "", "drift baseline file (stackgen/baseline/v1): count input features and predictions against it")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", exporter.DefaultShutdownTimeout, "how long to drain in-flight requests on SIGTERM")
	return cmd
}

func joinFloats(fs []float64) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = fmt.Sprint(f)
	}
	return strings.Join(s, ",")
}
