package bundle

import (
	"bytes"
	"strings"
	"testing"
)

func TestTermProgress(t *testing.T) {
	p := build(t, nil, nil)
	cases := []struct {
		name  string
		meter *TermProgress
		want  []string
	}{
		{"meter", &TermProgress{W: &bytes.Buffer{}}, []string{"verifying", "of 37 B", "\r\033[K"}},
		{"no meter (control)", nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var pr Progress
			if c.meter != nil {
				pr = c.meter
			}
			if _, _, err := VerifyWith(p, pr); err != nil {
				t.Fatal(err)
			}
			if c.meter == nil {
				return
			}
			out := c.meter.W.(*bytes.Buffer).String()
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("progress %q lacks %q", out, w)
				}
			}
			if c.meter.done != 37 {
				t.Errorf("counted %d bytes, want 37 (the entries' sizes)", c.meter.done)
			}
		})
	}
}
