package alerting

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func rulesFile(uids ...string) []byte {
	f := GrafanaRulesFile{APIVersion: 1, Groups: []GrafanaRuleGroup{{OrgID: 1, Name: "g", Folder: "f", Interval: "20s"}}}
	for _, u := range uids {
		f.Groups[0].Rules = append(f.Groups[0].Rules, GrafanaRule{UID: u, Title: u})
	}
	b, _ := yaml.Marshal(f)
	return b
}

func TestDeletedRules(t *testing.T) {
	tests := []struct {
		name          string
		previous, cur []byte
		want          []string // uids in deleteRules; nil = no file
	}{
		{"first render", nil, rulesFile("a"), nil},
		{"nothing removed", rulesFile("a", "b"), rulesFile("b", "a", "c"), nil},
		{"one removed", rulesFile("a", "b", "c"), rulesFile("b"), []string{"a", "c"}},
		{"engine switched away", rulesFile("a"), nil, []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := DeletedRules(tt.previous, tt.cur)
			if err != nil {
				t.Fatal(err)
			}
			data, ok := files[GrafanaDeletedRulesPath]
			if tt.want == nil {
				if ok {
					t.Fatalf("unexpected deleteRules file:\n%s", data)
				}
				return
			}
			var f GrafanaDeleteRulesFile
			if err := strictUnmarshal(data, &f); err != nil {
				t.Fatalf("%v\n%s", err, data)
			}
			var got []string
			for _, r := range f.DeleteRules {
				if r.OrgID != 1 {
					t.Errorf("orgId %d, want 1", r.OrgID)
				}
				got = append(got, r.UID)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") || f.APIVersion != 1 {
				t.Errorf("deleteRules = %v (apiVersion %d), want %v", got, f.APIVersion, tt.want)
			}
		})
	}
}
