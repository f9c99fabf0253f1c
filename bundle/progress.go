package bundle

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Progress follows the bytes of a pass over a bundle (nil: none shown).
type Progress interface {
	// Start begins a pass of total bytes.
	Start(label string, total int64)
	// Add counts n more bytes done.
	Add(n int64)
	// Done ends the pass.
	Done()
}

// TermProgress redraws one line in place on a terminal, at most every
// 200 ms: label, bytes done of total, percent, rate.
type TermProgress struct {
	// W is the terminal.
	W io.Writer

	mu           sync.Mutex
	label        string
	total, done  int64
	start, drawn time.Time
}

// Start implements Progress.
func (p *TermProgress) Start(label string, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.label, p.total, p.done, p.start, p.drawn = label, total, 0, time.Now(), time.Time{}
	p.draw()
}

// Add implements Progress.
func (p *TermProgress) Add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if time.Since(p.drawn) >= 200*time.Millisecond {
		p.draw()
	}
}

// Done implements Progress: the line is cleared.
func (p *TermProgress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprint(p.W, "\r\033[K")
}

func (p *TermProgress) draw() {
	p.drawn = time.Now()
	pct := 100.0
	if p.total > 0 {
		pct = 100 * float64(p.done) / float64(p.total)
	}
	rate := ""
	if s := time.Since(p.start).Seconds(); s > 0.5 {
		rate = fmt.Sprintf(", %s/s", HumanSize(int64(float64(p.done)/s)))
	}
	fmt.Fprintf(p.W, "\r\033[K  %s %s of %s (%.0f%%%s)", p.label, HumanSize(p.done), HumanSize(p.total), pct, rate)
}

// counter counts the bytes read through it into a Progress.
type counter struct {
	r io.Reader
	p Progress
}

func (c counter) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.Add(int64(n))
	return n, err
}
