// Package egress is the sending back end shared by the publisher and a
// relay: it takes packets that are already sequenced (wire format,
// DESIGN.md "Packet header") and puts them on the wire.
//
// [Egress.Send] takes in-order data packets and, for each batch: splits a
// packet bigger than [Config.MaxPacket] at message boundaries ([wire.Split],
// never merging), puts every data packet into the retransmit cache
// ([Config.Cache]) before any line sends it, so a NACK never finds a
// delivered packet "not yet sent", then writes the packets to every line in
// chunks of 16 (A's chunk, then B's, then the next chunk) so B's copy is
// never a whole batch behind A's, and hands each chunk to the [Sink] (a
// link server). The bytes are sent as given: the SendTime the caller stamped
// (the publisher) or received (a relay) is kept.
//
// [Egress.SendControl] sends a heartbeat or end of session the same way,
// without caching it. Each line may inject faults on its sending side
// ([Line.Faults]); faults that hold packets back (delay, reorder) release
// them on the next send or on [Egress.DrainFaults]. [Egress.KillLine] stops a
// line for failover drills.
//
// Send, SendControl and DrainFaults have one caller at a time (the owner's
// single writer); KillLine, Lines and Stats are safe from any goroutine.
package egress
