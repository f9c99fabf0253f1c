package commands

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stackgen/stackgen/baseline"
	"github.com/stackgen/stackgen/version"
)

func init() { register(newBaselineCmd) }

// newBaselineCmd builds `stackgen baseline`: a drift baseline from training data.
func newBaselineCmd() *cobra.Command {
	var (
		data, target, out, predict, protocol string
		bins                                 int
		force                                bool
	)
	cmd := &cobra.Command{
		Use:   "baseline",
		Short: "Compute a drift baseline (expected shares per feature bin and class) from a training CSV",
		Long: `Compute a drift baseline from a CSV file with a header row: for each numeric
column, quantile bin edges and the share of rows in each bin; for each other
column, its top categories plus "other"; the share of missing values; and the
expected class mix of --target (or of the model's answers on the rows, --predict
URL: an MLflow scoring endpoint such as http://127.0.0.1:8000/invocations, sent
dataframe_split batches of 500 rows, or a TF Serving predict endpoint such as
http://127.0.0.1:8501/v1/models/NAME:predict, sent {"instances": [[...]]}
batches of 500 rows in column order; --protocol tells which, by default from
the URL's path). Point models[].drift.baseline of
stack.yaml at the file. docs/baseline.md describes the format.
An existing -o file is only replaced with --force.`,
		Example: `  stackgen baseline --data train.csv --target attrition -o baseline.json
  stackgen baseline --data train.csv --predict http://127.0.0.1:8000/invocations -o baseline.json
  stackgen baseline --data train.csv --predict http://127.0.0.1:8501/v1/models/churn:predict -o baseline.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if data == "" {
				return exitf(2, "missing --data: the training CSV (header row first)")
			}
			if out == "" {
				return exitf(2, "missing -o/--output: where to write the baseline (- for stdout)")
			}
			if bins < 2 || bins > baseline.MaxBins {
				return exitf(2, "--bins %d: must be between 2 and %d", bins, baseline.MaxBins)
			}
			opts := baseline.Options{Bins: bins, Target: target, File: data, CreatedBy: "stackgen " + version.Get().Version}
			proto := baseline.Protocol(protocol)
			switch proto {
			case "auto":
				proto = ""
			case baseline.ProtocolMLflow, baseline.ProtocolTFServing:
			default:
				return exitf(2, "--protocol %q: want auto, mlflow or tfserving", protocol)
			}
			if predict != "" {
				u, err := url.Parse(predict)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return exitf(2, "--predict %q: want an http(s) URL of an MLflow scoring endpoint (e.g. http://127.0.0.1:8000/invocations) or a TF Serving one (e.g. http://127.0.0.1:8501/v1/models/NAME:predict)", predict)
				}
				if opts.Predict, err = baseline.Predict(predict, proto, nil); err != nil {
					return exitf(2, "--predict %q: %w", predict, err)
				}
			} else if protocol != "auto" {
				return exitf(2, "--protocol %s needs --predict URL", protocol)
			}
			if out != "-" && !force {
				if _, err := os.Stat(out); err == nil {
					return exitf(2, "%s exists; pass --force to replace it", out)
				}
			}
			fh, err := os.Open(data)
			if err != nil {
				return exitf(2, "--data: %w", err)
			}
			defer fh.Close()
			b, err := baseline.Compute(fh, opts)
			if err != nil {
				var ce *baseline.CSVError
				if errors.As(err, &ce) {
					return exitf(2, "%s:%s", data, locate(ce))
				}
				if strings.HasPrefix(err.Error(), "predict:") {
					return exitf(1, "%s: %w", data, err)
				}
				return exitf(2, "%s: %w", data, err)
			}
			enc, err := b.Marshal()
			if err != nil {
				return exitf(1, "%w", err)
			}
			if out == "-" {
				_, err = cmd.OutOrStdout().Write(enc)
			} else {
				err = writeFileAtomic(out, enc)
			}
			if err != nil {
				return exitf(1, "write baseline: %w", err)
			}
			summarize(cmd.ErrOrStderr(), b, out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&data, "data", "", "training CSV with a header row")
	f.StringVar(&target, "target", "", "label column: excluded from the features, gives the expected class mix")
	f.IntVar(&bins, "bins", baseline.DefaultBins, "bins per feature (numeric: quantiles; categorical: top bins-1 categories + other)")
	f.StringVar(&predict, "predict", "", "MLflow or TF Serving scoring URL whose answers on the rows give the prediction mix (and confidence)")
	f.StringVar(&protocol, "protocol", "auto", "protocol of --predict: mlflow, tfserving, or auto (tfserving for /v1/models/NAME[/versions/N]:predict, else mlflow)")
	f.StringVarP(&out, "output", "o", "", "baseline file to write (- for stdout)")
	f.BoolVar(&force, "force", false, "replace an existing -o file")
	return cmd
}

// locate formats a CSV error as LINE: column "x": message (after FILE:).
func locate(e *baseline.CSVError) string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:", e.Line)
	}
	b.WriteString(" ")
	if e.Column != "" {
		fmt.Fprintf(&b, "column %q: ", e.Column)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// summarize prints one line per feature and one for the prediction mix.
func summarize(w io.Writer, b *baseline.Baseline, out string) {
	for _, f := range b.Features {
		desc := fmt.Sprintf("%d categories + other", len(f.Categories))
		if f.Kind == baseline.KindNumeric {
			desc = fmt.Sprintf("range [%g, %g], mean %.4g, sd %.4g", f.Min, f.Max, f.Mean, f.Std)
		}
		fmt.Fprintf(w, "  %-24s %-11s %2d bins  %s, missing %.1f%%\n", f.Name, f.Kind, len(f.Bins), desc, 100*f.Missing)
	}
	if p := b.Prediction; p != nil {
		var mix []string
		for _, bin := range p.Bins {
			mix = append(mix, fmt.Sprintf("%s %.1f%%", bin.Label, 100*bin.Ratio))
		}
		line := fmt.Sprintf("  prediction (%s, from %s): %s", p.Kind, p.From, strings.Join(mix, ", "))
		if p.Confidence != nil {
			line += fmt.Sprintf("; mean confidence %.3f over %d answers", p.Confidence.Mean, p.Confidence.Rows)
		}
		fmt.Fprintln(w, line)
	}
	dest := out
	if out == "-" {
		dest = "stdout"
	}
	fmt.Fprintf(w, "baseline of %d rows, %d features (%s, sha256 %.12s…) written to %s\n", b.Rows, len(b.Features), b.Source.File, b.Source.SHA256, dest)
}

// writeFileAtomic writes data to a temporary file beside path and renames it
// into place, so a failed run never leaves half a baseline.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
