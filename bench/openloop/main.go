// Command openloop measures request latency at a fixed arrival rate (an
// open-loop load, like wrk2): requests start on a schedule whatever the
// previous ones did (each in its own goroutine), so a slow answer never
// delays the next request and cannot hide in a lower rate (no coordinated
// omission). Latency is measured from the moment a request is actually sent:
// timer wake-ups on a busy VM can be late by ~0.5 ms, which is the load
// generator's delay, not the server's; that lag is printed separately.
//
// It runs the URLs given as arguments one after another, -rounds times,
// alternating them, and prints p50/p90/p99/p99.9/max per URL and round plus
// the difference of each URL's median p99 from the first URL's (the "added
// latency" of a proxy when the first URL is its upstream).
//
//	go run ./bench/openloop -rate 1000 -d 5s http://upstream/invocations http://proxy/predict
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	rate := flag.Int("rate", 1000, "requests per second")
	dur := flag.Duration("d", 5*time.Second, "duration of one run")
	warm := flag.Duration("warmup", time.Second, "unmeasured warm-up before each run")
	rounds := flag.Int("rounds", 3, "rounds (the URLs alternate within a round)")
	body := flag.String("body", `{"dataframe_split":{"columns":["age","income","tenure"],"data":[[35,5000,3],[42,7200,10]]}}`, "JSON body to POST")
	flag.Parse()
	urls := flag.Args()
	if len(urls) == 0 {
		fmt.Fprintln(os.Stderr, "usage: openloop [flags] URL...")
		os.Exit(2)
	}
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, DisableCompression: true,
		ForceAttemptHTTP2: false, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}, Timeout: 10 * time.Second}

	p99s := make([][]time.Duration, len(urls))
	for r := 1; r <= *rounds; r++ {
		for i, u := range urls {
			_, _, _ = run(client, u, []byte(*body), *rate, *warm) // warm-up, discarded
			lat, errs, lag := run(client, u, []byte(*body), *rate, *dur)
			p := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
			if len(lat) == 0 {
				fmt.Printf("round %d %-45s no successful requests (%d errors)\n", r, u, errs)
				continue
			}
			p99s[i] = append(p99s[i], p(.99))
			fmt.Printf("round %d %-40s n=%d errors=%d p50=%v p90=%v p99=%v p99.9=%v max=%v (send lag p99 %v)\n",
				r, u, len(lat), errs, p(.5), p(.9), p(.99), p(.999), lat[len(lat)-1], lag)
		}
	}
	med := func(d []time.Duration) time.Duration {
		if len(d) == 0 {
			return 0
		}
		s := slices.Clone(d)
		slices.Sort(s)
		return s[len(s)/2]
	}
	for i, u := range urls {
		fmt.Printf("median p99 %-45s %v", u, med(p99s[i]))
		if i > 0 {
			fmt.Printf("  (added vs first URL: %v)", med(p99s[i])-med(p99s[0]))
		}
		fmt.Println()
	}
}

// run sends rate requests per second for d and returns the sorted latencies,
// the error count and the p99 lag of actual send times behind the schedule.
func run(c *http.Client, url string, body []byte, rate int, d time.Duration) ([]time.Duration, int, time.Duration) {
	n := max(1, int(d.Seconds()*float64(rate)))
	interval := time.Second / time.Duration(rate)
	lat := make([]time.Duration, n)
	lags := make([]time.Duration, n)
	var errs atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		at := start.Add(time.Duration(i) * interval)
		if w := time.Until(at); w > 0 {
			time.Sleep(w)
		}
		wg.Add(1)
		go func(i int, at time.Time) {
			defer wg.Done()
			sent := time.Now()
			lags[i] = sent.Sub(at)
			resp, err := c.Post(url, "application/json", bytes.NewReader(body))
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			if err != nil {
				errs.Add(1)
				lat[i] = -1
				return
			}
			lat[i] = time.Since(sent)
		}(i, at)
	}
	wg.Wait()
	slices.Sort(lags)
	ok := lat[:0]
	for _, l := range lat {
		if l >= 0 {
			ok = append(ok, l)
		}
	}
	slices.Sort(ok)
	return ok, int(errs.Load()), lags[n*99/100]
}
