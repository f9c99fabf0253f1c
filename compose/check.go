package compose

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// Check loads the rendered compose.yaml (files as Render returns them, for
// outDir) with compose-go's loader, the parser `docker compose` uses:
// interpolation, normalisation and schema validation. Secrets are read from
// the environment only at `up`, so placeholders stand in for them here;
// whether they are set is stack.CheckSecrets' job.
func Check(files map[string][]byte, outDir, project string) error {
	data, ok := files[FileName]
	if !ok {
		return fmt.Errorf("%s was not rendered", FileName)
	}
	abs, err := filepath.Abs(outDir)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", outDir, err)
	}
	_, err = loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  abs,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(abs, FileName), Content: data}},
		Environment: types.Mapping{EnvGrafanaAdminPass: "placeholder", EnvSMTPPassword: "placeholder"},
	}, func(o *loader.Options) {
		o.SetProjectName(loader.NormalizeProjectName(project), true)
	})
	if err != nil {
		return fmt.Errorf("%s: compose rejects it: %w", FileName, err)
	}
	return nil
}
