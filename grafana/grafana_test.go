package grafana

import (
	"bytes"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/stackgen/stackgen/stack"
)

func parse(t *testing.T, src string) *stack.Stack {
	t.Helper()
	s, err := stack.Parse([]byte(src), "stack.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// strict decodes data into v, refusing keys the typed structs do not have.
func strict(t *testing.T, data []byte, v any) {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
}

func TestRender(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		files    int
		folder   string
		interval string
	}{
		{name: "grafana on", src: "name: shop\nmodels: [{name: m, kind: demo}]\nprometheus: {scrape_interval: 7s}\n", files: 2, folder: "stackgen shop", interval: "7s"},
		{name: "grafana off (negative control)", src: "name: shop\nmodels: [{name: m, kind: demo}]\ngrafana: {enabled: false}\nalerting: {engine: prometheus}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := parse(t, tt.src)
			files, err := Render(s)
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != tt.files {
				t.Fatalf("%d files, want %d", len(files), tt.files)
			}
			if tt.files == 0 {
				return
			}
			var ds DatasourceFileContent
			strict(t, files[DatasourceFile], &ds)
			d := ds.Datasources[0]
			if d.UID != stack.GrafanaDatasourceUID || d.URL != "http://prometheus:9090" || d.JSONData.TimeInterval != tt.interval {
				t.Errorf("data source = %+v", d)
			}
			var pr ProviderFileContent
			strict(t, files[ProviderFile], &pr)
			if p := pr.Providers[0]; p.Folder != tt.folder || p.Folder != s.GrafanaFolder() || p.Options.Path != DashboardsPath {
				t.Errorf("provider = %+v, want folder %q", p, tt.folder)
			}
		})
	}
}
