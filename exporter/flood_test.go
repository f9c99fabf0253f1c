package exporter

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSlowBodyFlood: many connections declaring a large body and sending it
// a byte at a time must neither starve /metrics and /predict nor grow the
// heap with the declared lengths. The always-on version uses 300
// connections; STACKGEN_SLOWBODY_CONNS=20000 runs the scenario
// (each declares 10,000,000 bytes; default limits: 1,024 in flight, 30s body
// timeout).
func TestSlowBodyFlood(t *testing.T) {
	conns, maxInFlight, bodyTimeout := 300, 64, 5*time.Second
	helpers := 0
	if s := os.Getenv("STACKGEN_SLOWBODY_CONNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("STACKGEN_SLOWBODY_CONNS=%q: %v", s, err)
		}
		conns, maxInFlight, bodyTimeout = n, DefaultMaxInFlight, DefaultBodyTimeout
		// The clients run in helper processes (each holds 8,000
		// descriptors at most: RLIMIT_NOFILE is 20,000 here).
		helpers = (n + 7999) / 8000
	}
	up, _ := recordingUpstream(t, `{"predictions":[1]}`)
	_, px := startExporter(t, Config{Upstream: up.URL, Kind: KindMLflow, MaxInFlight: maxInFlight, BodyTimeout: bodyTimeout})
	addr := px.Listener.Addr().String()

	opened := 0
	if helpers == 0 {
		f := startFlood(addr, conns)
		defer f.close()
		opened = f.count()
	} else {
		for i := range helpers {
			n := min(8000, conns-i*8000)
			cmd := exec.Command(os.Args[0], "-test.run=^TestFloodClientHelper$", "-test.v")
			cmd.Env = append(os.Environ(), "STACKGEN_FLOOD_ADDR="+addr, "STACKGEN_FLOOD_N="+strconv.Itoa(n))
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if k, ok := strings.CutPrefix(sc.Text(), "flood-ready "); ok {
					c, _ := strconv.Atoi(k)
					opened += c
					break
				}
			}
		}
	}
	time.Sleep(time.Second)

	cl := &http.Client{Timeout: 5 * time.Second}
	var worstMetrics time.Duration
	for range 5 {
		start := time.Now()
		resp, err := cl.Get(px.URL + "/metrics")
		d := time.Since(start)
		if err != nil {
			t.Fatalf("/metrics during the flood: %v", err)
		}
		resp.Body.Close()
		worstMetrics = max(worstMetrics, d)
		time.Sleep(100 * time.Millisecond)
	}
	start := time.Now()
	resp, err := cl.Post(px.URL+"/predict", "application/json", nil)
	predictIn := time.Since(start)
	if err != nil {
		t.Fatalf("/predict during the flood: %v", err)
	}
	resp.Body.Close()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("%d slow connections opened, max_in_flight %d: /metrics worst %v, /predict %d in %v, heap in use %.1f MB, goroutines %d",
		opened, maxInFlight, worstMetrics, resp.StatusCode, predictIn, float64(ms.HeapInuse)/1e6, runtime.NumGoroutine())
	if worstMetrics > time.Second {
		t.Errorf("/metrics took %v during the flood, want < 1s", worstMetrics)
	}
	if resp.StatusCode != 503 && resp.StatusCode != 200 {
		t.Errorf("/predict during the flood: %d, want a fast 503 (cap reached) or 200", resp.StatusCode)
	}
	if predictIn > time.Second {
		t.Errorf("/predict answered after %v during the flood", predictIn)
	}
	if ms.HeapInuse > 500<<20 {
		t.Errorf("heap in use %d MB, want < 500 MB", ms.HeapInuse>>20)
	}
	mfs := scrape(t, px.URL)
	if v, _ := value(mfs, MetricRejected, map[string]string{"reason": ReasonOverloaded}); conns > maxInFlight && v == 0 {
		t.Errorf("no request rejected as overloaded with %d slow connections and a cap of %d", conns, maxInFlight)
	}
	if v, _ := value(mfs, MetricInFlight, nil); v > float64(maxInFlight) {
		t.Errorf("in flight %v above the cap %d", v, maxInFlight)
	}
}

// flood holds slow-body client connections.
type flood struct {
	mu   sync.Mutex
	open []net.Conn
	stop chan struct{}
}

// startFlood dials n connections to addr, each declaring a 10,000,000-byte
// body and sending one byte of it every 2s.
func startFlood(addr string, n int) *flood {
	f := &flood{stop: make(chan struct{})}
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					continue
				}
				fmt.Fprintf(c, "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{")
				f.mu.Lock()
				f.open = append(f.open, c)
				f.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	go func() {
		tk := time.NewTicker(2 * time.Second)
		defer tk.Stop()
		for {
			select {
			case <-f.stop:
				return
			case <-tk.C:
				f.mu.Lock()
				cs := f.open
				f.mu.Unlock()
				for _, c := range cs {
					_ = c.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
					_, _ = c.Write([]byte{'1'})
				}
			}
		}
	}()
	return f
}

func (f *flood) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.open)
}

func (f *flood) close() {
	close(f.stop)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.open {
		c.Close()
	}
}

// TestFloodClientHelper is the client side of TestSlowBodyFlood in a helper
// process (only when STACKGEN_FLOOD_ADDR is set).
func TestFloodClientHelper(t *testing.T) {
	addr := os.Getenv("STACKGEN_FLOOD_ADDR")
	if addr == "" {
		t.Skip("helper process of TestSlowBodyFlood")
	}
	n, _ := strconv.Atoi(os.Getenv("STACKGEN_FLOOD_N"))
	f := startFlood(addr, n)
	defer f.close()
	fmt.Printf("flood-ready %d\n", f.count())
	time.Sleep(2 * time.Minute) // killed by the parent
}
