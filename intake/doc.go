// Package intake is the front end of a tickcast subscriber, reusable by a
// relay (DESIGN.md, "Subscribers are a Go library", "Recovery ladder" steps
// 1–3, "The QUIC link"): it joins the multicast lines, keeps QUIC links to
// publishers or relays up, arbitrates everything into one in-order,
// exactly-once stream with package gap, NACKs holes (to a UDP retransmit
// server or over a link), and hands the result to its owner's [Consumer]
// through a bounded queue.
//
// The dispatcher is not a goroutine of its own: whichever goroutine holds
// the intake's dispatch lock dispatches. Usually that is the line reader
// that just received the packets (no hand-off between the socket and the
// consumer); when the lock is taken, the reader leaves its work and the
// holder, or the intake's background loop, delivers it. Either way the
// Consumer gets one call at a time, in order. [Intake.Do] runs the owner's
// code under the same lock.
//
// What the intake does not do is the owner's: a subscriber applies the
// stream to books and recovers by snapshot ([Intake.RequestSnapshot],
// [Intake.Hold], [Intake.Advance]); a relay re-publishes it and forwards
// NACKs ([Intake.Request], Config.Stale).
//
//	in, err := intake.New(intake.Config{
//		Channel: 1,
//		Lines: []intake.Line{
//			{Name: "A", Group: netip.MustParseAddrPort("239.1.1.1:31001"), Interface: "eth0"},
//			{Name: "B", Group: netip.MustParseAddrPort("239.1.1.2:31002"), Interface: "eth0"},
//		},
//		Links:    []intake.Link{{Addr: "hub:31020", TLS: tlsCfg}},
//		Consumer: myConsumer,
//	})
//	if err != nil { … }
//	defer in.Close()
//	err = in.Run(ctx)
package intake
