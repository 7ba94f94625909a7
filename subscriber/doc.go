// Package subscriber is the embeddable tickcast client (DESIGN.md,
// "Subscribers are a Go library" and "Recovery ladder").
//
// A [Subscriber] is package intake (which joins the A and B multicast lines
// and, optionally, QUIC links to publishers or relays, arbitrates them into
// one in-order stream with package gap and fills holes by NACK) plus the
// books (package feed) and the recovery: it recovers by snapshot when a hole
// cannot be filled, on a late join, a session change, a book checksum
// mismatch or a queue overrun, rebuilds a price-level book per instrument and
// records latency in HDR histograms. The application gets every event in
// order through a [Handler] and is told of each reset explicitly: it never
// sees a silent hole.
//
// Configuration is a plain [Config] struct; [Subscriber.Run] runs everything
// under a context and stops all it started when the context ends:
//
//	sub, err := subscriber.New(subscriber.Config{
//		Lines: []subscriber.Line{
//			{Group: netip.MustParseAddrPort("239.1.1.1:31001"), Interface: "lo"},
//			{Group: netip.MustParseAddrPort("239.1.1.2:31002"), Interface: "lo"},
//		},
//		Handler: subscriber.HandlerFunc(func(e *subscriber.Event) {
//			if e.Kind == subscriber.EventConsistent {
//				bid, _ := e.Book.BestBid()
//				fmt.Println(e.Instrument, bid.Price)
//			}
//		}),
//	})
//	if err != nil { … }
//	err = sub.Run(ctx)
package subscriber
