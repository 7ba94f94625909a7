// Package link is the QUIC link between tickcast hops (DESIGN.md, "The QUIC
// link"): relay to relay, and relay to remote subscriber. Both ends live here.
//
// A link is one QUIC connection, ALPN "tickcast/1", TLS 1.3 with mutual
// authentication: each side presents a certificate from the operator's CA
// (see package internal/pki) and refuses anyone else. The server logs each
// refused peer once, with its address and the reason, and counts it.
//
// On the connection:
//
//   - The client opens one bidirectional control stream and sends one
//     wire.Subscribe per channel. The server confirms each by echoing it on
//     the control stream (tickcast's extension: the client's [Dial] returns
//     only once every subscription is live, and a refused certificate surfaces
//     as an error there instead of later).
//   - Live packets of subscribed channels flow server to client as QUIC
//     DATAGRAMs: no head-of-line blocking, no retransmission by QUIC. A packet
//     larger than the datagram limit is split at message boundaries.
//   - wire.RetransmitRequest (NACK) and wire.SnapshotRequest go up the control
//     stream. Each is answered on a new unidirectional stream: the
//     retransmitted packets or one RetransmitReject packet; the snapshot
//     packets closed by the SnapshotEnd packet.
//   - Subscribe mode snapshot sends a snapshot on a stream and live datagrams;
//     mode from-seq retransmits from FromSeq up to the live edge on a stream,
//     then live. Live delivery starts before the snapshot or retransmission so
//     there is no hole between them; the receiver's arbiter drops the overlap.
//
// On a stream every packet is preceded by its length as a u32 little-endian;
// lengths above [MaxStreamPacket] end the stream as malformed.
//
// The server ([Server]) serves from a [Feed] supplied by its owner (publisher
// or relay) and fans live packets out with [Server.Publish], which never
// blocks: each client has its own bounded queue, and a client whose queue is
// full loses live packets (counted and named in [Server.Stats]) and recovers
// by NACK or snapshot. A client whose queue has refused every packet for
// longer than ServerConfig.SlowCutoff is closed with [CodeSlowConsumer] and a
// reason that [Client.Run] returns. NACKs are admitted and capped by a
// gap.Policy (the requester is the peer's IP address). The client ([Client]) hands every packet to a
// [Handler] and implements gap.Requester for NACKs.
package link
