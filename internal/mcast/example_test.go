package mcast_test

import (
	"fmt"
	"log"
	"net/netip"

	"github.com/tickcast/tickcast/internal/mcast"
)

// Join a group on lo and send to it from the same host: the setup every
// tickcast test uses.
func Example() {
	r, err := mcast.Listen(mcast.RecvConfig{
		Group:     netip.MustParseAddrPort("239.77.12.34:0"), // port 0: a free port
		Interface: "lo",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	s, err := mcast.Dial(mcast.SendConfig{
		Group:     r.LocalAddr(),
		Interface: "lo",
		TTL:       0, // stay on this host
		Loopback:  true,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	if _, err := s.WriteBatch([][]byte{[]byte("hello"), []byte("world")}); err != nil {
		log.Fatal(err)
	}
	for got := 0; got < 2; {
		batch, err := r.ReadBatch()
		if err != nil {
			log.Fatal(err)
		}
		for _, d := range batch {
			fmt.Printf("%s from %v\n", d.Data, d.Src.Addr())
			got++
		}
	}
	// Output:
	// hello from 127.0.0.1
	// world from 127.0.0.1
}
