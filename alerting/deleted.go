package alerting

import (
	"fmt"
	"sort"

	"gopkg.in/yaml.v3"
)

// GrafanaDeletedRulesPath lists rules that an earlier render provisioned and
// the current one no longer does. Grafana's provisioning only creates and
// updates rules by uid; without deleteRules, a rule removed from stack.yaml
// would keep evaluating (and mailing) from Grafana's database.
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
