package impair

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"
)

// deadline is how long tests wait for a condition: generous, never a
// speed threshold.
const deadline = 30 * time.Second

// eventually waits until cond holds, failing the test after deadline.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// checkGoroutines fails the test if, after it, more goroutines run than
// before it (waiting for stragglers to end).
func checkGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		end := time.Now().Add(deadline)
		for runtime.NumGoroutine() > before {
			if time.Now().After(end) {
				buf := make([]byte, 1<<16)
				t.Errorf("goroutine leak: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
}

// startProxy runs a proxy for cfg (Listen defaults to 127.0.0.1:0) until
// the test ends.
func startProxy(t testing.TB, cfg Config) *Proxy {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		p.Close()
	})
	return p
}

// arrival is a packet a sink received.
type arrival struct {
	seq  uint32
	at   time.Time
	from netip.AddrPort
	n    int
}

// sink is a UDP server that records what it receives; with echo set it
// also sends each packet back.
type sink struct {
	conn *net.UDPConn
	mu   sync.Mutex
	got  []arrival
	wg   sync.WaitGroup
}

func newSink(t testing.TB, echo bool) *sink {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{conn: c}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		buf := make([]byte, maxDatagram)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue
			}
			a := arrival{at: time.Now(), from: from, n: n}
			if n >= 4 {
				a.seq = binary.BigEndian.Uint32(buf)
			}
			s.mu.Lock()
			s.got = append(s.got, a)
			s.mu.Unlock()
			if echo {
				c.WriteToUDPAddrPort(buf[:n], from)
			}
		}
	}()
	t.Cleanup(func() { c.Close(); s.wg.Wait() })
	return s
}

func (s *sink) addr() string { return s.conn.LocalAddr().String() }

func (s *sink) arrivals() []arrival {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]arrival(nil), s.got...)
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// dial returns a client socket connected to the proxy.
func dial(t testing.TB, p *Proxy) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(p.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sendSeq sends packets first..first+n-1 of size bytes (sequence number
// first), in rounds of 32 that the proxy reads before the next round, so no
// socket buffer overflows.
func sendSeq(t testing.TB, c *net.UDPConn, p *Proxy, first, n, size int) {
	t.Helper()
	buf := make([]byte, max(size, 4))
	for i := 0; i < n; {
		base := p.Stats().Up.In
		k := min(32, n-i)
		for j := range k {
			binary.BigEndian.PutUint32(buf, uint32(first+i+j))
			if _, err := c.Write(buf); err != nil {
				t.Fatal(err)
			}
		}
		i += k
		eventually(t, "the proxy to read a round", func() bool { return p.Stats().Up.In >= base+uint64(k) })
	}
}
