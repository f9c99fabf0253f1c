package alerting

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

// CheckGrafana checks rendered Grafana alerting files structurally, as far as
// possible without a running Grafana: every query's datasourceUid is one of
// datasourceUIDs or the expression data source; refIds are unique and each
// expression refers to an earlier refId; the condition names a refId; rule
// uids are valid and unique; titles are unique per folder; the policy's
// receiver is a provisioned contact point. files is keyed by deploy-relative
// path, as Render returns it; other paths are ignored. It returns every
// problem found, joined.
func CheckGrafana(files map[string][]byte, datasourceUIDs []string) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	ds := map[string]bool{ExprDatasourceUID: true}
	for _, u := range datasourceUIDs {
		ds[u] = true
	}
	contactPoints := map[string]bool{}
	if b, ok := files[GrafanaContactPointsPath]; ok {
		var f GrafanaContactPointsFile
		if err := strictUnmarshal(b, &f); err != nil {
			bad("%s: %v", GrafanaContactPointsPath, err)
		}
		if f.APIVersion != 1 {
			bad("%s: apiVersion is %d, want 1", GrafanaContactPointsPath, f.APIVersion)
		}
		for _, cp := range f.ContactPoints {
			contactPoints[cp.Name] = true
			if len(cp.Receivers) == 0 {
				bad("%s: contact point %q has no receivers", GrafanaContactPointsPath, cp.Name)
			}
			for _, r := range cp.Receivers {
				if !ValidUID(r.UID) {
					bad("%s: receiver uid %q is invalid", GrafanaContactPointsPath, r.UID)
				}
				if r.Type == "email" && strings.TrimSpace(r.Settings.Addresses) == "" {
					bad("%s: email receiver %q has no addresses", GrafanaContactPointsPath, r.UID)
				}
			}
		}
	}
	if b, ok := files[GrafanaPoliciesPath]; ok {
		var f GrafanaPoliciesFile
		if err := strictUnmarshal(b, &f); err != nil {
			bad("%s: %v", GrafanaPoliciesPath, err)
		}
		for _, p := range f.Policies {
			if !contactPoints[p.Receiver] {
				bad("%s: policy receiver %q is not a provisioned contact point", GrafanaPoliciesPath, p.Receiver)
			}
		}
	}
	if b, ok := files[GrafanaRulesPath]; ok {
		var f GrafanaRulesFile
		if err := strictUnmarshal(b, &f); err != nil {
			bad("%s: %v", GrafanaRulesPath, err)
		}
		uids := map[string]bool{}
		titles := map[string]bool{}
		for _, g := range f.Groups {
			if g.Name == "" || g.Folder == "" {
				bad("%s: group %q needs a name and a folder", GrafanaRulesPath, g.Name)
			}
			for _, r := range g.Rules {
				where := fmt.Sprintf("%s: rule %q", GrafanaRulesPath, r.Title)
				if !ValidUID(r.UID) {
					bad("%s: uid %q is not 1-40 of [A-Za-z0-9_-]", where, r.UID)
				}
				if uids[r.UID] {
					bad("%s: uid %q is used twice", where, r.UID)
				}
				uids[r.UID] = true
				if key := g.Folder + "\x00" + r.Title; titles[key] {
					bad("%s: title used twice in folder %q", where, g.Folder)
				} else {
					titles[key] = true
				}
				refs := map[string]bool{}
				for _, q := range r.Data {
					if !ds[q.DatasourceUID] {
						bad("%s: query %s uses unknown datasourceUid %q", where, q.RefID, q.DatasourceUID)
					}
					if q.Model.Datasource.UID != q.DatasourceUID {
						bad("%s: query %s model datasource %q differs from datasourceUid %q", where, q.RefID, q.Model.Datasource.UID, q.DatasourceUID)
					}
					if q.RefID == "" || refs[q.RefID] {
						bad("%s: refId %q is empty or repeated", where, q.RefID)
					}
					if q.Model.RefID != q.RefID {
						bad("%s: model refId %q differs from refId %q", where, q.Model.RefID, q.RefID)
					}
					if q.DatasourceUID == ExprDatasourceUID {
						for _, in := range exprInputs(q.Model) {
							if !refs[in] {
								bad("%s: expression %s refers to %q, not an earlier refId", where, q.RefID, in)
							}
						}
					} else if strings.TrimSpace(q.Model.Expr) == "" {
						bad("%s: query %s has no expr", where, q.RefID)
					}
					refs[q.RefID] = true
				}
				if !refs[r.Condition] {
					bad("%s: condition %q names no refId", where, r.Condition)
				}
				if r.Annotations["summary"] == "" {
					bad("%s: no summary annotation", where)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// exprInputs lists the refIds a server-side expression reads.
func exprInputs(m GrafanaModel) []string {
	switch m.Type {
	case "reduce", "threshold", "resample":
		return []string{m.Expression}
	case "math":
		var out []string
		for _, f := range strings.FieldsFunc(m.Expression, func(r rune) bool {
			return !(r == '$' || r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
		}) {
			for _, part := range strings.Split(f, "$")[1:] {
				out = append(out, part)
			}
		}
		return out
	}
	return []string{"<unknown expression type " + m.Type + ">"}
}

// strictUnmarshal decodes YAML rejecting fields the typed structs do not know.
func strictUnmarshal(b []byte, v any) error {
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	return dec.Decode(v)
}

// CheckPrometheusRules parses every rendered Prometheus rule file (files as
// render returns them: PrometheusRulesPath and the other
// prometheus/rules/*.yml, such as the drift package's recording rules) with
// Prometheus' own rule parser, which also parses every annotation and label
// as a Prometheus template, as the rule manager does when it loads the file.
// It returns every problem found, joined, and nil when no rule file was
// rendered.
func CheckPrometheusRules(files map[string][]byte) error {
	var paths []string
	for p := range files {
		if p == PrometheusRulesPath || strings.HasPrefix(p, PrometheusRulesDir) && strings.HasSuffix(p, ".yml") {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	var all []error
	for _, p := range paths {
		_, errs := rulefmt.Parse(files[p], false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
		for _, err := range errs {
			all = append(all, fmt.Errorf("%s: %w", p, err))
		}
	}
	return errors.Join(all...)
}

// PrometheusRulesDir holds every rule file Prometheus loads (rules/*.yml).
const PrometheusRulesDir = "prometheus/rules/"
