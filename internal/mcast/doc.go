// Package mcast sends and receives tickcast's multicast lines: UDP/IPv4
// multicast with batch I/O and kernel receive timestamps (DESIGN.md, "The one
// idea", "Performance principles" and "Testing on one machine").
//
// A [Receiver] joins one group on one interface and returns datagrams a
// batch at a time with [Receiver.ReadBatch] (one recvmmsg on Linux, straight
// into preallocated buffers: no allocation per call). A [Sender] sends a
// batch of datagrams with [Sender.WriteBatch] (sendmmsg on a socket connected
// to the group). TTL, interface and packet size limit are explicit per line,
// and a datagram over the limit is an error ([ErrTooBig]), never a silent
// drop.
//
// A line may name its sender (DESIGN.md, "Security and abuse"): a receiver
// with [RecvConfig.Source] joins source-specifically (IGMPv3 SSM), so the
// kernel drops every other source's datagrams, and it drops and counts in
// [RecvStats.ForeignSource] any that still arrives. [SendConfig.Source]
// picks the address a sender sends from.
//
// Socket buffers are large by default (16 MiB receive, 4 MiB send). When the
// kernel caps them at net.core.rmem_max / wmem_max, the package forces them
// if it has CAP_NET_ADMIN and otherwise logs one warning naming the sysctl to
// raise. [Receiver.Stats] counts truncated datagrams and the kernel's drops
// for the socket (SO_RXQ_OVFL), so a reader that falls behind shows.
//
// Linux gets the full feature set; elsewhere a portable fallback built on
// golang.org/x/net/ipv4 works without timestamps, drop counts or shared
// ports.
//
// # Local testing
//
// Multicast works on the loopback interface: join on "lo", send on "lo"
// with TTL 0 or 1 and loopback on, use a group of your own in 239.0.0.0/8
// (see package mcasttest) and let the receiver pick a free port:
//
//	r, err := mcast.Listen(mcast.RecvConfig{
//		Group:     netip.MustParseAddrPort("239.1.2.3:0"), // port 0: a free port
//		Interface: "lo",
//	})
//	if err != nil { ... }
//	defer r.Close()
//	s, err := mcast.Dial(mcast.SendConfig{
//		Group:     r.LocalAddr(), // the group and the port the receiver got
//		Interface: "lo",
//		TTL:       0, // stay on this host
//		Loopback:  true,
//	})
//	if err != nil { ... }
//	defer s.Close()
//	_, err = s.WriteBatch([][]byte{[]byte("hello"), []byte("world")})
//	batch, err := r.ReadBatch() // both datagrams, once they arrived
//	for _, d := range batch {
//		fmt.Printf("%s from %v at %d\n", d.Data, d.Src, d.KernelTime)
//	}
package mcast
