package alerting

import (
	"strings"
	"time"

	"github.com/stackgen/stackgen/stack"
)

// ExprDatasourceUID is the uid of Grafana's server-side expression data source.
const ExprDatasourceUID = "__expr__"

// Grafana provisioning names.
const (
	ContactPointName = "stackgen-email"
	ContactPointUID  = "stackgen-email"
)

// Reference ids of the three steps of every Grafana rule: query → reduce → condition.
const (
	RefQuery     = "A"
	RefReduce    = "B"
	RefCondition = "C"
)

// GrafanaContactPointsFile is a Grafana alerting provisioning file with contact points.
type GrafanaContactPointsFile struct {
	APIVersion    int                   `yaml:"apiVersion"`
	ContactPoints []GrafanaContactPoint `yaml:"contactPoints"`
}

// GrafanaContactPoint is a named contact point with its receivers.
type GrafanaContactPoint struct {
	OrgID     int               `yaml:"orgId"`
	Name      string            `yaml:"name"`
	Receivers []GrafanaReceiver `yaml:"receivers"`
}

// GrafanaReceiver is one integration of a contact point.
type GrafanaReceiver struct {
	UID                   string               `yaml:"uid"`
	Type                  string               `yaml:"type"`
	Settings              GrafanaEmailSettings `yaml:"settings"`
	DisableResolveMessage bool                 `yaml:"disableResolveMessage"`
}

// GrafanaEmailSettings are the settings of an email integration.
type GrafanaEmailSettings struct {
	// Addresses are the recipients separated by ';'.
	Addresses   string `yaml:"addresses"`
	SingleEmail bool   `yaml:"singleEmail"`
}

// GrafanaPoliciesFile is a Grafana alerting provisioning file with the notification policy tree.
type GrafanaPoliciesFile struct {
	APIVersion int             `yaml:"apiVersion"`
	Policies   []GrafanaPolicy `yaml:"policies"`
}

// GrafanaPolicy is the root notification policy of an organisation.
type GrafanaPolicy struct {
	OrgID          int      `yaml:"orgId"`
	Receiver       string   `yaml:"receiver"`
	GroupBy        []string `yaml:"group_by"`
	GroupWait      string   `yaml:"group_wait,omitempty"`
	GroupInterval  string   `yaml:"group_interval,omitempty"`
	RepeatInterval string   `yaml:"repeat_interval,omitempty"`
}

// GrafanaRulesFile is a Grafana alerting provisioning file with rule groups.
type GrafanaRulesFile struct {
	APIVersion int                `yaml:"apiVersion"`
	Groups     []GrafanaRuleGroup `yaml:"groups"`
}

// GrafanaRuleGroup is a group of rules evaluated together, in a folder.
type GrafanaRuleGroup struct {
	OrgID    int           `yaml:"orgId"`
	Name     string        `yaml:"name"`
	Folder   string        `yaml:"folder"`
	Interval string        `yaml:"interval"`
	Rules    []GrafanaRule `yaml:"rules"`
}

// GrafanaRule is a Grafana-managed alert rule.
type GrafanaRule struct {
	UID          string            `yaml:"uid"`
	Title        string            `yaml:"title"`
	Condition    string            `yaml:"condition"`
	Data         []GrafanaQuery    `yaml:"data"`
	NoDataState  string            `yaml:"noDataState"`
	ExecErrState string            `yaml:"execErrState"`
	For          string            `yaml:"for"`
	Annotations  map[string]string `yaml:"annotations"`
	Labels       map[string]string `yaml:"labels"`
	IsPaused     bool              `yaml:"isPaused"`
}

// GrafanaQuery is one step of a rule: a data source query or an expression.
type GrafanaQuery struct {
	RefID             string            `yaml:"refId"`
	RelativeTimeRange RelativeTimeRange `yaml:"relativeTimeRange"`
	DatasourceUID     string            `yaml:"datasourceUid"`
	Model             GrafanaModel      `yaml:"model"`
}

// RelativeTimeRange is a query's time range in seconds before now.
type RelativeTimeRange struct {
	From int `yaml:"from"`
	To   int `yaml:"to"`
}

// GrafanaModel is the model of a query step: a Prometheus query (Expr set)
// or a server-side expression (Type reduce, threshold or math).
type GrafanaModel struct {
	RefID         string             `yaml:"refId"`
	Datasource    GrafanaDatasource  `yaml:"datasource"`
	Type          string             `yaml:"type,omitempty"`
	Expr          string             `yaml:"expr,omitempty"`
	EditorMode    string             `yaml:"editorMode,omitempty"`
	Instant       bool               `yaml:"instant,omitempty"`
	Range         *bool              `yaml:"range,omitempty"`
	LegendFormat  string             `yaml:"legendFormat,omitempty"`
	Expression    string             `yaml:"expression,omitempty"`
	Reducer       string             `yaml:"reducer,omitempty"`
	Settings      *ReduceSettings    `yaml:"settings,omitempty"`
	Conditions    []GrafanaCondition `yaml:"conditions,omitempty"`
	IntervalMs    int                `yaml:"intervalMs"`
	MaxDataPoints int                `yaml:"maxDataPoints"`
}

// GrafanaDatasource references a data source by type and uid.
type GrafanaDatasource struct {
	Type string `yaml:"type"`
	UID  string `yaml:"uid"`
}

// ReduceSettings control how a reduce expression treats NaN and null values.
type ReduceSettings struct {
	Mode             string   `yaml:"mode"`
	ReplaceWithValue *float64 `yaml:"replaceWithValue,omitempty"`
}

// GrafanaCondition is a threshold expression's condition.
type GrafanaCondition struct {
	Evaluator GrafanaEvaluator `yaml:"evaluator"`
}

// GrafanaEvaluator compares a value: type gt or lt with one parameter.
type GrafanaEvaluator struct {
	Type   string    `yaml:"type"`
	Params []float64 `yaml:"params"`
}

// GrafanaFolder is the folder the stack's alert rules are provisioned into.
//
// Deprecated: use (*stack.Stack).GrafanaFolder.
func GrafanaFolder(s *stack.Stack) string { return s.GrafanaFolder() }

// GrafanaInterval is the rule group interval: Prometheus' evaluation interval
// rounded up to a multiple of 10s, Grafana's scheduler tick.
func GrafanaInterval(s *stack.Stack) time.Duration {
	d := s.Prometheus.EvaluationInterval.D()
	const tick = 10 * time.Second
	if d <= tick {
		return tick
	}
	return (d + tick - 1) / tick * tick
}

// GrafanaContactPoints builds the email contact point. It returns false when
// SMTP is off (no contact point and no policy are provisioned then).
func GrafanaContactPoints(s *stack.Stack) (GrafanaContactPointsFile, bool) {
	if !s.SMTP.Enabled() {
		return GrafanaContactPointsFile{}, false
	}
	return GrafanaContactPointsFile{
		APIVersion: 1,
		ContactPoints: []GrafanaContactPoint{{
			OrgID: 1,
			Name:  ContactPointName,
			Receivers: []GrafanaReceiver{{
				UID:      ContactPointUID,
				Type:     "email",
				Settings: GrafanaEmailSettings{Addresses: strings.Join(s.SMTP.Recipients, ";")},
			}},
		}},
	}, true
}

// GrafanaPolicies builds the root notification policy sending every alert to
// the email contact point, grouped by folder, alert name and model.
func GrafanaPolicies(s *stack.Stack) (GrafanaPoliciesFile, bool) {
	if !s.SMTP.Enabled() {
		return GrafanaPoliciesFile{}, false
	}
	return GrafanaPoliciesFile{
		APIVersion: 1,
		Policies: []GrafanaPolicy{{
			OrgID:          1,
			Receiver:       ContactPointName,
			GroupBy:        []string{"grafana_folder", "alertname", LabelModel},
			GroupWait:      "10s",
			GroupInterval:  "1m",
			RepeatInterval: "4h",
		}},
	}, true
}

// GrafanaRuleGroups builds the rule groups: one per model, in the stack's
// folder, plus "stack" for stack-wide custom alerts. Every rule is
// A (Prometheus instant query of the value) → B (reduce: last) →
// C (threshold gt/lt on B; for custom alerts a math expression that is 1 for
// every series A returns). No data is OK: an idle model has no latency or
// error series, and that is not an incident.
func GrafanaRuleGroups(s *stack.Stack) (GrafanaRulesFile, error) {
	rules, err := Rules(s)
	if err != nil {
		return GrafanaRulesFile{}, err
	}
	f := GrafanaRulesFile{APIVersion: 1, Groups: []GrafanaRuleGroup{}}
	index := map[string]int{}
	interval := stack.Duration(GrafanaInterval(s)).String()
	for _, r := range rules {
		g := r.Model
		if g == "" {
			g = "stack"
		}
		i, ok := index[g]
		if !ok {
			i = len(f.Groups)
			index[g] = i
			f.Groups = append(f.Groups, GrafanaRuleGroup{OrgID: 1, Name: g, Folder: s.GrafanaFolder(), Interval: interval})
		}
		f.Groups[i].Rules = append(f.Groups[i].Rules, grafanaRule(r))
	}
	return f, nil
}

func grafanaRule(r Rule) GrafanaRule {
	exprDS := GrafanaDatasource{Type: ExprDatasourceUID, UID: ExprDatasourceUID}
	from := 600
	if w := int(r.Alert.Window.D().Seconds()) * 2; w > from {
		from = w
	}
	if r.Alert.Kind == stack.AlertTrafficSpike && from < 1800 {
		from = 1800
	}
	notRange := false
	query := GrafanaQuery{
		RefID:             RefQuery,
		RelativeTimeRange: RelativeTimeRange{From: from},
		DatasourceUID:     stack.GrafanaDatasourceUID,
		Model: GrafanaModel{
			RefID:         RefQuery,
			Datasource:    GrafanaDatasource{Type: "prometheus", UID: stack.GrafanaDatasourceUID},
			Expr:          r.Query.Value,
			EditorMode:    "code",
			Instant:       true,
			Range:         &notRange,
			LegendFormat:  "{{model}}",
			IntervalMs:    1000,
			MaxDataPoints: 43200,
		},
	}
	reduce := GrafanaQuery{
		RefID:         RefReduce,
		DatasourceUID: ExprDatasourceUID,
		Model: GrafanaModel{
			RefID:         RefReduce,
			Datasource:    exprDS,
			Type:          "reduce",
			Expression:    RefQuery,
			Reducer:       "last",
			IntervalMs:    1000,
			MaxDataPoints: 43200,
		},
	}
	cond := GrafanaQuery{
		RefID:         RefCondition,
		DatasourceUID: ExprDatasourceUID,
		Model: GrafanaModel{
			RefID:         RefCondition,
			Datasource:    exprDS,
			IntervalMs:    1000,
			MaxDataPoints: 43200,
		},
	}
	if r.Query.Custom() {
		one := 1.0
		reduce.Model.Settings = &ReduceSettings{Mode: "replaceNN", ReplaceWithValue: &one}
		cond.Model.Type = "math"
		cond.Model.Expression = "is_number($" + RefReduce + ")"
	} else {
		ev := "gt"
		if r.Query.Op == OpBelow {
			ev = "lt"
		}
		cond.Model.Type = "threshold"
		cond.Model.Expression = RefReduce
		cond.Model.Conditions = []GrafanaCondition{{Evaluator: GrafanaEvaluator{Type: ev, Params: []float64{r.Query.Threshold}}}}
	}
	data := []GrafanaQuery{query, reduce, cond}
	for _, q := range r.driftExtraQueries() {
		extra := query
		extra.RefID, extra.Model.RefID, extra.Model.Expr = q[0], q[0], q[1]
		extra.Model.Range = &notRange
		data = append(data, extra)
	}
	forDur := "0s"
	if r.Alert.For != nil {
		forDur = r.Alert.For.String()
	}
	return GrafanaRule{
		UID:          r.UID,
		Title:        r.Title,
		Condition:    RefCondition,
		Data:         data,
		NoDataState:  "OK",
		ExecErrState: "Error",
		For:          forDur,
		Annotations: map[string]string{
			"summary":     r.Summary("$values." + RefReduce + ".Value"),
			"description": r.GrafanaDescription(),
		},
		Labels:   r.Labels,
		IsPaused: false,
	}
}
