package link

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickcast/tickcast/wire"
)

// BenchmarkPublish measures Publish alone (no network) with one subscribed
// client and 10-trade packets: "enqueue" copies into the queue and the
// client's sender takes the packet back in the same goroutine; "full" is the
// drop path of a client whose queue is full; "concurrent" has a goroutine
// draining the queue while Publish runs (the fraction dropped is reported).
func BenchmarkPublish(b *testing.B) {
	pkt := mkPacket(0, 1, 1, 1, 10)
	b.Run("enqueue", func(b *testing.B) {
		s, c := publishFixture(DefaultQueueLen)
		b.ReportAllocs()
		b.SetBytes(int64(len(pkt)))
		for b.Loop() {
			s.Publish(1, pkt)
			p, _ := c.q.pop()
			c.q.release(p)
		}
		reportRate(b)
	})
	b.Run("full", func(b *testing.B) {
		s, c := publishFixture(64)
		for !c.q.live.full() {
			s.Publish(1, pkt)
		}
		b.ReportAllocs()
		for b.Loop() {
			s.Publish(1, pkt)
		}
		reportRate(b)
	})
	b.Run("concurrent", func(b *testing.B) {
		s, c := publishFixture(DefaultQueueLen)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				p, ok := c.q.pop()
				if !ok {
					if !c.q.wait(ctx.Done()) {
						return
					}
					continue
				}
				c.q.release(p)
			}
		})
		b.ReportAllocs()
		b.SetBytes(int64(len(pkt)))
		for b.Loop() {
			s.Publish(1, pkt)
		}
		reportRate(b)
		b.ReportMetric(float64(c.dropped.Load())/float64(b.N), "dropped/op")
		cancel()
		wg.Wait()
	})
}

// reportRate reports operations per second as pkts/s.
func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}

// BenchmarkPublishLink measures live delivery to one client over real QUIC on
// 127.0.0.1: Publish paced so the client's queue never overflows, until the
// client has every packet (or stops receiving: quic-go's receive queue may
// drop under load; the delivered fraction is reported). allocs/op counts
// both ends, quic-go included.
func BenchmarkPublishLink(b *testing.B) {
	p := newPKI(b)
	s := testServer(b, p, &fakeFeed{}, nil)
	var got atomic.Int64
	testClient(b, s, ClientConfig{TLS: p.ClientTLS(), Subscriptions: []wire.Subscribe{liveSub(1)}},
		HandlerFunc(func(wire.Packet, int64) { got.Add(1) }))
	s.mu.Lock()
	var c *serverConn
	for c = range s.conns {
	}
	s.mu.Unlock()
	pkt := mkPacket(0, 1, 1, 1, 10)

	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		for c.q.live.full() {
			runtime.Gosched()
		}
		s.Publish(1, pkt)
	}
	// Wait for the sender to drain, then for the client to stop receiving.
	for c.q.live.len() > 0 {
		runtime.Gosched()
	}
	last, idle := int64(-1), time.Now()
	for got.Load() < int64(b.N) && time.Since(idle) < 200*time.Millisecond {
		if n := got.Load(); n != last {
			last, idle = n, time.Now()
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(got.Load())/elapsed.Seconds(), "pkts/s")
	b.ReportMetric(100*float64(got.Load())/float64(b.N), "delivered%")
}
