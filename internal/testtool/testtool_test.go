package testtool

import "testing"

func TestPathFindsShell(t *testing.T) {
	if p := Path(t, "part of every Linux", "no-such-tool-xyz", "sh"); p == "" {
		t.Fatal("sh not found")
	}
}

// recorder is a testing.TB that records Skip and Fatal instead of stopping.
type recorder struct {
	testing.TB
	skipped, failed bool
}

func (r *recorder) Helper()                  {}
func (r *recorder) Skip(...any)              { r.skipped = true }
func (r *recorder) Fatalf(string, ...any)    { r.failed = true }
func (r *recorder) Skipf(string, ...any)     { r.skipped = true }
func (r *recorder) Fatal(...any)             { r.failed = true }
func (r *recorder) Logf(string, ...any)      {}
func (r *recorder) Errorf(string, ...any)    { r.failed = true }
func (r *recorder) Name() string             { return "recorder" }
func (r *recorder) Cleanup(func())           {}
func (r *recorder) Setenv(key, value string) {}
func (r *recorder) TempDir() string          { return "" }
func (r *recorder) Failed() bool             { return r.failed }
func (r *recorder) Skipped() bool            { return r.skipped }
func (r *recorder) Log(...any)               {}
func (r *recorder) Error(...any)             { r.failed = true }
func (r *recorder) Fail()                    { r.failed = true }
func (r *recorder) FailNow()                 { r.failed = true }
func (r *recorder) SkipNow()                 { r.skipped = true }

func TestMissingToolSkipsOrFails(t *testing.T) {
	for _, tt := range []struct {
		env          string
		skip, failed bool
	}{{"", true, false}, {"0", true, false}, {"1", false, true}} {
		t.Run("env="+tt.env, func(t *testing.T) {
			t.Setenv(RequireEnv, tt.env)
			r := &recorder{TB: t}
			Path(r, "test", "no-such-tool-xyz")
			if r.skipped != tt.skip || r.failed != tt.failed {
				t.Fatalf("skipped=%v failed=%v, want %v %v", r.skipped, r.failed, tt.skip, tt.failed)
			}
		})
	}
}
