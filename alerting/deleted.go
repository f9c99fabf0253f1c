package alerting

import (
	"fmt"
	"sort"

	"gopkg.in/yaml.v3"
)

// GrafanaDeletedRulesPath lists rules that earlier renders provisioned and
// the current one no longer does (render keeps the list in its manifest
// until a successful `up` applied it). Grafana's provisioning only creates
// and updates rules by uid; without deleteRules, a rule removed from
// stack.yaml would keep evaluating (and mailing) from Grafana's database.
const GrafanaDeletedRulesPath = "grafana/provisioning/alerting/deleted-rules.yml"

// GrafanaDeleteRulesFile is a provisioning file with only deleteRules.
type GrafanaDeleteRulesFile struct {
	APIVersion  int              `yaml:"apiVersion"`
	DeleteRules []GrafanaRuleRef `yaml:"deleteRules"`
}

// GrafanaRuleRef names a rule by organisation and uid.
type GrafanaRuleRef struct {
	OrgID int    `yaml:"orgId"`
	UID   string `yaml:"uid"`
}

// DeletedRules compares the rules file of the previous render with the
// current one and returns a deleteRules file for every uid that is gone, or
// nothing when none is. previous may be nil (first render).
func DeletedRules(previous, current []byte) (map[string][]byte, error) {
	if len(previous) == 0 {
		return nil, nil
	}
	old, err := ruleUIDs(previous)
	if err != nil {
		return nil, fmt.Errorf("read previous %s: %w", GrafanaRulesPath, err)
	}
	cur, err := ruleUIDs(current)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", GrafanaRulesPath, err)
	}
	var gone []GrafanaRuleRef
	for ref := range old {
		if !cur[ref] {
			gone = append(gone, ref)
		}
	}
	if len(gone) == 0 {
		return nil, nil
	}
	sort.Slice(gone, func(i, j int) bool {
		if gone[i].OrgID != gone[j].OrgID {
			return gone[i].OrgID < gone[j].OrgID
		}
		return gone[i].UID < gone[j].UID
	})
	data, err := marshal(GrafanaDeleteRulesFile{APIVersion: 1, DeleteRules: gone})
	if err != nil {
		return nil, fmt.Errorf("marshal %s: %w", GrafanaDeletedRulesPath, err)
	}
	return map[string][]byte{GrafanaDeletedRulesPath: data}, nil
}

func ruleUIDs(data []byte) (map[GrafanaRuleRef]bool, error) {
	out := map[GrafanaRuleRef]bool{}
	if len(data) == 0 {
		return out, nil
	}
	var f GrafanaRulesFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			out[GrafanaRuleRef{OrgID: g.OrgID, UID: r.UID}] = true
		}
	}
	return out, nil
}

// GrafanaOrgID is the organisation every provisioned rule belongs to.
const GrafanaOrgID = 1

// GrafanaRuleUIDs returns the sorted, distinct uids of the rules in a Grafana
// rules provisioning file (none for empty data).
func GrafanaRuleUIDs(rulesFile []byte) ([]string, error) {
	refs, err := ruleUIDs(rulesFile)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", GrafanaRulesPath, err)
	}
	seen := map[string]bool{}
	out := []string{}
	for ref := range refs {
		if !seen[ref.UID] {
			seen[ref.UID] = true
			out = append(out, ref.UID)
		}
	}
	sort.Strings(out)
	return out, nil
}

// PrometheusAlertNames returns the sorted, distinct alert names of a
// Prometheus rule file (none for empty data).
func PrometheusAlertNames(ruleFile []byte) ([]string, error) {
	out := []string{}
	if len(ruleFile) == 0 {
		return out, nil
	}
	var f RuleFile
	if err := yaml.Unmarshal(ruleFile, &f); err != nil {
		return nil, fmt.Errorf("read %s: %w", PrometheusRulesPath, err)
	}
	seen := map[string]bool{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" && !seen[r.Alert] {
				seen[r.Alert] = true
				out = append(out, r.Alert)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// PendingDeletions is the list of Grafana rule uids still to delete: the
// uids already pending plus those provisioned before and not now, minus every
// uid provisioned now (a rule that came back must not be deleted). The
// result is sorted and distinct. Deleting a uid Grafana no longer has is a
// no-op there (its provenance reads as none and the delete matches no row),
// so keeping a uid pending across several `up`s is harmless.
func PendingDeletions(pending, previous, current []string) []string {
	now := map[string]bool{}
	for _, u := range current {
		now[u] = true
	}
	set := map[string]bool{}
	for _, list := range [][]string{pending, previous} {
		for _, u := range list {
			if u != "" && !now[u] {
				set[u] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for u := range set {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}

// DeleteRulesFile renders the deleteRules provisioning file
// (GrafanaDeletedRulesPath) for uids, or nil when there are none.
func DeleteRulesFile(uids []string) ([]byte, error) {
	if len(uids) == 0 {
		return nil, nil
	}
	f := GrafanaDeleteRulesFile{APIVersion: 1}
	sorted := append([]string(nil), uids...)
	sort.Strings(sorted)
	for _, u := range sorted {
		f.DeleteRules = append(f.DeleteRules, GrafanaRuleRef{OrgID: GrafanaOrgID, UID: u})
	}
	data, err := marshal(f)
	if err != nil {
		return nil, fmt.Errorf("marshal %s: %w", GrafanaDeletedRulesPath, err)
	}
	return data, nil
}
