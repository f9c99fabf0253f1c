package commands

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackgen/stackgen/model"
	"github.com/stackgen/stackgen/modelserver"
)

func init() { register(newModelCmd) }

// newModelCmd builds `stackgen model` and its serve, train and example subcommands.
func newModelCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "model",
		Short: "Serve, train and query the demo model (no Python needed)",
		Long: `The demo model is a logistic-regression classifier trained in pure Go.
A default model, trained on a small synthetic employee-attrition data set that
ships with stackgen, is built into the binary.`,
	}
	cmd.AddCommand(newModelServeCmd(), newModelTrainCmd(), newModelExampleCmd())
	return cmd
}

func newModelServeCmd() *cobra.Command {
	var (
		listen, modelFile, name, version string
		cfg                              modelserver.Config
	)
	requestTimeout := modelserver.DefaultRequestTimeout
	var envErr error
	if v, ok := os.LookupEnv("MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT"); ok {
		// MLflow reads whole seconds.
		secs, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || secs <= 0 {
			envErr = fmt.Errorf("MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT=%q: want a positive number of seconds (or set --request-timeout)", v)
		} else {
			requestTimeout = time.Duration(secs) * time.Second
		}
	}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a model over the MLflow scoring protocol and the TF Serving REST API",
		Long: `Serve a model (the built-in demo model unless --model is given) with:
  MLflow scoring:  POST /invocations, GET /ping, /health, /version
  TF Serving REST: GET /v1/models/NAME, POST /v1/models/NAME:predict
  TF Serving-style metrics at /monitoring/prometheus/metrics, process metrics at /metrics.
The MLflow endpoints answer as an MLflow 3.11 scoring server does (status codes,
error_code values, messages, content types); model/README.md lists what differs.
The request timeout defaults to $MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT seconds
when set, as in MLflow (60 s otherwise).
SIGTERM or SIGINT drains in-flight requests before exiting.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if envErr != nil && !cmd.Flags().Changed("request-timeout") {
				return exitf(2, "%w", envErr)
			}
			if cfg.ErrorRate < 0 || cfg.ErrorRate > 1 {
				return exitf(2, "--error-rate %g: must be between 0 and 1", cfg.ErrorRate)
			}
			if cfg.Latency < 0 || cfg.Jitter < 0 {
				return exitf(2, "--latency and --jitter must not be negative")
			}
			if cfg.BodyReadTimeout <= 0 || cfg.RequestTimeout <= 0 || cfg.MaxConcurrent <= 0 || cfg.MaxBodyBytes <= 0 || cfg.MaxInflightBytes < 0 {
				return exitf(2, "--body-read-timeout, --request-timeout, --max-concurrent, --max-body-bytes and --max-inflight-bytes must be positive")
			}
			m := model.Default()
			if modelFile != "" {
				var err error
				if m, err = model.Load(modelFile); err != nil {
					return exitf(1, "%w", err)
				}
			}
			cfg.Model = m
			cfg.Name = name
			cfg.Version = version
			cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			go func() {
				<-ctx.Done()
				stop() // a second signal during the drain kills the process
			}()
			srv := modelserver.New(cfg)
			if err := srv.ListenAndServe(ctx, listen); err != nil {
				return exitf(1, "model serve: %w", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", ":8080", "address to listen on (host:port)")
	f.StringVar(&modelFile, "model", "", "model file written by `stackgen model train` (default: the built-in demo model)")
	f.StringVar(&name, "name", "", "served model name for /v1/models/NAME and the model_name label (default: the model file's name, \"demo\" for the built-in model)")
	f.StringVar(&version, "server-version", "", "text answered by GET /version (default \""+modelserver.DefaultVersion+"\")")
	f.DurationVar(&cfg.Latency, "latency", 0, "artificial latency added to every valid prediction, e.g. 5ms")
	f.DurationVar(&cfg.Jitter, "jitter", 0, "spread the artificial latency uniformly over latency ± jitter")
	f.Float64Var(&cfg.ErrorRate, "error-rate", 0, "fraction (0..1) of valid predictions answered with an injected 500 error")
	f.Int64Var(&cfg.MaxBodyBytes, "max-body-bytes", modelserver.DefaultMaxBodyBytes, "largest accepted request body (413 above it)")
	f.DurationVar(&cfg.BodyReadTimeout, "body-read-timeout", modelserver.DefaultBodyReadTimeout, "deadline for receiving a request body (408 after it)")
	f.DurationVar(&cfg.RequestTimeout, "request-timeout", requestTimeout, "limit on handling a prediction, artificial latency included (504 after it, as MLflow answers)")
	f.IntVar(&cfg.MaxConcurrent, "max-concurrent", modelserver.DefaultMaxConcurrent, "predictions in flight at most; more are refused with 503")
	f.Int64Var(&cfg.MaxInflightBytes, "max-inflight-bytes", 0, "body bytes of the predictions in flight at most (parsing takes ~25x); more are refused with 503 (default: --max-body-bytes)")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", modelserver.DefaultShutdownTimeout, "how long to drain in-flight requests on SIGTERM")
	return cmd
}

func newModelTrainCmd() *cobra.Command {
	var (
		data, target, out, name, features string
		opts                              = model.DefaultTrainOptions()
	)
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train a logistic-regression model on a CSV file",
		Long: `Train a binary logistic-regression classifier by deterministic gradient descent
on a CSV file with a header row. The target column must hold exactly two distinct
values; feature columns must be numeric. Without --data, the built-in synthetic
attrition data set is used (target "attrition"), which reproduces the built-in model.`,
		Example: `  stackgen model train --data attrition.csv --target attrition -o model.json
  stackgen model serve --model model.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return exitf(2, "missing -o/--output: where to write the model file")
			}
			var r io.Reader
			if data == "" {
				r = bytes.NewReader(model.AttritionCSV())
				if target == "" {
					target = model.AttritionTarget
				}
			} else {
				if target == "" {
					return exitf(2, "missing --target: the label column of %s", data)
				}
				fh, err := os.Open(data)
				if err != nil {
					return exitf(1, "open data: %w", err)
				}
				defer fh.Close()
				r = fh
			}
			var cols []string
			if features != "" {
				for _, c := range strings.Split(features, ",") {
					cols = append(cols, strings.TrimSpace(c))
				}
			}
			ds, err := model.ReadCSV(r, target, cols)
			if err != nil {
				return exitf(1, "read data: %w", err)
			}
			opts.Name = name
			m, err := model.Train(ds, opts)
			if err != nil {
				return exitf(1, "train: %w", err)
			}
			if out == "-" {
				b, err := m.MarshalJSONIndent()
				if err != nil {
					return exitf(1, "%w", err)
				}
				_, err = cmd.OutOrStdout().Write(b)
				return err
			}
			if err := m.Save(out); err != nil {
				return exitf(1, "%w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "trained %q v%d on %d rows, %d features %v, classes %v: training accuracy %.3f, log loss %.3f; wrote %s\n",
				m.Name, m.Version, m.Training.Rows, len(m.Features), m.Features, m.Classes, m.Training.Accuracy, m.Training.LogLoss, out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&data, "data", "", "CSV file with a header row (default: the built-in synthetic attrition data set)")
	f.StringVar(&target, "target", "", "label column (two distinct values)")
	f.StringVarP(&out, "output", "o", "", "model file to write (- for stdout)")
	f.StringVar(&name, "name", model.DefaultName, "model name")
	f.Int64Var(&opts.Version, "version", opts.Version, "model version (positive integer)")
	f.StringVar(&features, "features", "", "comma-separated feature columns (default: every column but the target)")
	f.IntVar(&opts.Iterations, "iterations", opts.Iterations, "gradient-descent steps")
	f.Float64Var(&opts.LearningRate, "learning-rate", opts.LearningRate, "gradient-descent step size")
	f.Float64Var(&opts.L2, "l2", opts.L2, "L2 regularisation strength")
	return cmd
}

func newModelExampleCmd() *cobra.Command {
	var format, modelFile string
	cmd := &cobra.Command{
		Use:   "example",
		Short: "Print a valid request body for the model",
		Long: `Print a valid request body for the model (the built-in demo model unless --model
is given). Formats: ` + strings.Join(model.Formats(), ", ") + `. csv bodies are sent with
Content-Type text/csv, the others with application/json; instances and inputs
bodies work for both /invocations and /v1/models/NAME:predict.`,
		Example: `  stackgen model example | curl -s -H 'Content-Type: application/json' --data-binary @- localhost:8080/invocations
  stackgen model example --format instances | curl -s --data-binary @- localhost:8080/v1/models/demo:predict`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m := model.Default()
			if modelFile != "" {
				var err error
				if m, err = model.Load(modelFile); err != nil {
					return exitf(1, "%w", err)
				}
			}
			body, _, err := model.Example(m, format)
			if err != nil {
				return exitf(2, "%w", err)
			}
			w := cmd.OutOrStdout()
			if _, err := w.Write(body); err != nil {
				return fmt.Errorf("write example: %w", err)
			}
			if len(body) > 0 && body[len(body)-1] != '\n' {
				_, err = io.WriteString(w, "\n")
			}
			return err
		},
	}
	cmd.Flags().StringVar(&format, "format", model.FormatDataframeSplit, "body format: "+strings.Join(model.Formats(), "|"))
	cmd.Flags().StringVar(&modelFile, "model", "", "model file (default: the built-in demo model)")
	return cmd
}
