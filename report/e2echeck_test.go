package report

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stackgen/stackgen/internal/testtool"
)

// TestE2EPageChecks runs test/e2e/report.sh's firing-history and email
// checks (--check-page) on a page made from the fake Prometheus and mail
// catcher, and on copies with the history table, the recipient or the
// body line cut, which must fail: the e2e test can notice a missing
// history (the rules table's row alone does not pass, as it did).
func TestE2EPageChecks(t *testing.T) {
	bash := testtool.Path(t, "apt-get install -y bash sed gawk", "bash")
	s := loadExample(t, "offline")
	dir := t.TempDir()
	path := generate(t, s, testOptions(t, newFake()), dir)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := string(raw)
	historyTable := regexp.MustCompile(`(?s)(<h3>Firing history[^\n]*\n\n)<table>.*?</table>`)
	if !historyTable.MatchString(page) {
		t.Fatal("control: no history table on the page")
	}
	const rcpt, body = "oncall@example.com", "for model demo"
	tests := []struct {
		name   string
		page   string
		rcpt   string
		body   string
		passes bool
	}{
		{"whole page", page, rcpt, body, true},
		{"history table removed", historyTable.ReplaceAllString(page, "$1"), rcpt, body, false},
		{"history row without its times", strings.Replace(page, "<td>2026-01-02 14:35:00</td><td>2026-01-02 15:00:00</td></tr>", "</tr>", 1), rcpt, body, false},
		{"other recipient", page, "ops@example.com", body, false},
		{"body line missing", page, rcpt, "for model other", false},
		{"emails removed", page[:strings.Index(page, `<h2 id="emails">`)], rcpt, body, false},
	}
	script := filepath.Join("..", "test", "e2e", "report.sh")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "index.html")
			if err := os.WriteFile(f, []byte(tt.page), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(bash, script, "--check-page", f, tt.rcpt, tt.body).CombinedOutput()
			if passed := err == nil; passed != tt.passes {
				t.Fatalf("check passed %v, want %v (%v): %s", passed, tt.passes, err, out)
			}
		})
	}
	// The old check, a grep of the whole page, passed on the page without
	// the history table: the rules table's row matched it.
	old := regexp.MustCompile(`<td>high_error_ratio</td><td>demo</td><td class="firing">firing</td><td>`)
	if !old.MatchString(historyTable.ReplaceAllString(page, "$1")) {
		t.Error("control: the old grep no longer matches the rules table")
	}
}
