package stack

// Names shared by everything that touches drift: the exporter's metric
// families, the recording rules Prometheus computes PSI with, the alerts and
// the dashboard panels. One place, so a renderer never spells a series by
// hand. Every recorded series carries the ModelLabel label; feature series
// also "feature", bin series also "bin", class series "class".
const (
	// MetricFeatureBin counts input rows per feature and bin (counter;
	// every bin of every feature of the baseline is created at 0).
	MetricFeatureBin = "model_feature_bin_total"
	// MetricFeatureMissing counts rows where a feature was missing or null.
	MetricFeatureMissing = "model_feature_missing_total"
	// MetricFeatureOutOfRange counts values outside the training range or
	// non-numeric in a numeric feature.
	MetricFeatureOutOfRange = "model_feature_out_of_range_total"
	// MetricFeatureBaselineRatio is each bin's expected share (gauge).
	MetricFeatureBaselineRatio = "model_feature_baseline_ratio"
	// MetricPredictionBaselineRatio is each predicted class's expected share
	// (gauge, label "class"), compared with model_predictions_total.
	MetricPredictionBaselineRatio = "model_prediction_baseline_ratio"
	// MetricPredictionValue is a histogram of numeric predictions with the
	// baseline's prediction edges as buckets (regression / scores).
	MetricPredictionValue = "model_prediction_value"
	// MetricPredictionConfidence is a histogram of the top-class probability
	// when the model returns class probabilities.
	MetricPredictionConfidence = "model_prediction_confidence"
	// MetricPredictionConfidenceBaseline is the baseline's mean top-class
	// probability (gauge).
	MetricPredictionConfidenceBaseline = "model_prediction_confidence_baseline"

	// LabelFeature, LabelBin and LabelClass are the drift series' labels.
	LabelFeature = "feature"
	LabelBin     = "bin"
	LabelClass   = "class"
)

// Recorded series (Prometheus recording rules, level:metric:operation). The
// window is the model's drift.window; it is not in the name so dashboards and
// alerts spell one name for every model.
const (
	// RecFeatureBinRows is rows per feature and bin in the window.
	RecFeatureBinRows = "model_feature:bin_rows:window"
	// RecFeatureRows is rows with a value per feature in the window (N).
	RecFeatureRows = "model_feature:rows:window"
	// RecFeatureBinShare is each bin's actual share in the window.
	RecFeatureBinShare = "model_feature:bin_share:window"
	// RecFeatureBinPSI is each bin's PSI term (a − e)·ln(a / e).
	RecFeatureBinPSI = "model_feature:bin_psi:window"
	// RecFeaturePSI is a feature's PSI (sum of its bin terms).
	RecFeaturePSI = "model_feature:psi:window"
	// RecFeaturePSIThreshold is a feature's effective threshold,
	// max(threshold, χ²_q(B−1)·(1/N + 1/M)).
	RecFeaturePSIThreshold = "model_feature:psi_threshold:window"
	// RecPredictionRows, RecPredictionClassShare, RecPredictionClassPSI,
	// RecPredictionPSI and RecPredictionPSIThreshold are the same for the
	// predicted-class mix (label "class").
	RecPredictionRows         = "model_prediction:rows:window"
	RecPredictionClassShare   = "model_prediction:class_share:window"
	RecPredictionClassPSI     = "model_prediction:class_psi:window"
	RecPredictionPSI          = "model_prediction:psi:window"
	RecPredictionPSIThreshold = "model_prediction:psi_threshold:window"
	// RecPredictionConfidenceMean is the mean top-class probability in the
	// window.
	RecPredictionConfidenceMean = "model_prediction:confidence_mean:window"

	// AlertFeatureDrift, AlertPredictionDrift and AlertConfidenceDrop are
	// the drift alert kinds (default set when a model has drift configured).
	AlertFeatureDrift    = "feature_drift"
	AlertPredictionDrift = "prediction_drift"
	AlertConfidenceDrop  = "confidence_drop"
)

// Grafana panel ids of the model dashboard's "Data drift" panels that drift
// alert emails link to (/d/<uid>?viewPanel=<id>). The dashboards renderer
// numbers the other panels from 1 in layout order and gives these panels
// the fixed ids below, so alerting links a panel without importing the
// dashboards package. They sit far above any sequential id a dashboard
// reaches.
const (
	PanelFeatureDriftPSI    = 9001
	PanelPredictionDriftPSI = 9002
	PanelConfidenceMean     = 9003
)

// DriftPanelID is the id of the panel an alert of drift kind links to (0
// for a kind that is not a drift kind).
func DriftPanelID(kind string) int {
	switch kind {
	case AlertFeatureDrift:
		return PanelFeatureDriftPSI
	case AlertPredictionDrift:
		return PanelPredictionDriftPSI
	case AlertConfidenceDrop:
		return PanelConfidenceMean
	}
	return 0
}
