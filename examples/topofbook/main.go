// Command topofbook embeds the tickcast subscriber: it joins line A and
// line B of 'tickcast publish' (defaults: 239.255.0.1:31001 and
// 239.255.0.2:31002 on lo), NACKs its gaps to the publisher's retransmit
// server, and prints each instrument's best bid and ask as its book
// changes, at most ten times a second per instrument. Start it before the
// publisher (joined later, it needs a QUIC link for the snapshot of the
// books it missed: see subscriber.Config.Links):
//
//	go run ./examples/topofbook &
//	go run ./cmd/tickcast publish --instruments 5 --rate 10000
package main

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"os"
	"os/signal"
	"time"

	"github.com/tickcast/tickcast/subscriber"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	last := map[uint32]time.Time{}
	sub, err := subscriber.New(subscriber.Config{
		Channel: 1,
		Lines: []subscriber.Line{
			{Group: netip.MustParseAddrPort("239.255.0.1:31001"), Interface: "lo"},
			{Group: netip.MustParseAddrPort("239.255.0.2:31002"), Interface: "lo"},
		},
		RetransmitAddr: netip.MustParseAddrPort("127.0.0.1:31010"),
		Handler: subscriber.HandlerFunc(func(e *subscriber.Event) {
			switch e.Kind {
			case subscriber.EventConsistent: // the book is consistent after this exchange event
				if time.Since(last[e.Instrument]) < 100*time.Millisecond || e.Def == nil {
					return // e.Def is nil until the instrument's definition arrives
				}
				last[e.Instrument] = time.Now()
				bid, _ := e.Book.BestBid()
				ask, _ := e.Book.BestAsk()
				fmt.Printf("%-10s %d@%d / %d@%d (10^%d)\n", e.Def.SymbolString(), bid.Qty, bid.Price, ask.Qty, ask.Price, e.Def.PriceExp)
			case subscriber.EventReset:
				fmt.Println("books reset:", e.Reset, "- waiting for recovery")
			}
		}),
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := sub.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
