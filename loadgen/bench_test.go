package loadgen

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
)

// BenchmarkSession measures one request/response round trip of each client
// over a keep-alive loopback connection, against a server that answers each
// read with a canned response (cheap, so the client's cost shows). Run with
// -benchmem: the fasthttp session should allocate nothing per request. The
// "+pool" variants cycle 1,024 bodies sampled from a drift baseline
// (Config.Bodies): switching bodies must add no allocation.
func BenchmarkSession(b *testing.B) {
	const resp = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 21\r\n\r\n{\"predictions\":[0,1]}"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 16<<10)
				w := bufio.NewWriter(c)
				for {
					if _, err := c.Read(buf); err != nil { // one small request per read
						return
					}
					w.WriteString(resp)
					if w.Flush() != nil {
						return
					}
				}
			}()
		}
	}()
	pool, err := SamplePool(testBaseline(b), SampleOptions{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"fast", "std", "fast+pool", "std+pool"} {
		b.Run(name, func(b *testing.B) {
			cfg := baseConfig("http://" + ln.Addr().String() + "/invocations")
			cfg.Requests, cfg.StdClient = 1, strings.HasPrefix(name, "std")
			usePool := strings.HasSuffix(name, "+pool")
			u, err := cfg.normalize()
			if err != nil {
				b.Fatal(err)
			}
			cl, err := newClient(context.Background(), &cfg, u, [2]request{{body: validBody, contentType: "application/json"}})
			if err != nil {
				b.Fatal(err)
			}
			s := cl.newSession()
			defer s.close()
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				if usePool {
					s.use(pool[i%len(pool)])
					i++
				}
				if status, err := s.do(false); err != nil || status != 200 {
					b.Fatalf("status %d, err %v", status, err)
				}
			}
		})
	}
}
