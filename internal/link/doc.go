// Package link is the QUIC link between tickcast hops (DESIGN.md, "The QUIC
// link"): relay to relay, and relay to remote subscriber. Both ends live here.
//
// A link is one QUIC connection, ALPN "tickcast/2", TLS 1.3 with mutual
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
//   - Live packets of subscribed channels, and the retransmissions that
//     answer NACKs, flow server to client on the data path: sealed UDP
//     datagrams on the connection's own 5-tuple, outside QUIC (seal.go).
//     Each is AES-128-GCM under keys from the TLS exporter of the link's
//     handshake, so only the two authenticated ends can make or read one,
//     and quic-go's transport on the same socket tells them from QUIC
//     packets by the first byte. A packet larger than MaxDataPacket is split
//     at message boundaries. Why not QUIC DATAGRAMs (ALPN tickcast/1 did
//     that): they sit under QUIC's congestion control (NewReno in quic-go,
//     not replaceable), which on a path with 5 % loss and 250 ms RTT carries
//     about a tenth of a 1 MB/s feed, and quic-go queues 32 to send and 128
//     received, dropping the rest in silence. The feed's rate is set by the
//     publisher, as on multicast; what the link must do is notice a
//     downstream that cannot carry it, below.
//   - The client sends a sealed receiver report on the data path every
//     250 ms: how many datagrams it took in. The server compares that with
//     what it sent, over about a second, to measure each client's loss.
//   - wire.RetransmitRequest (NACK) goes up the data path too, sealed, one
//     datagram each: a lost one costs the client one RTO, where on the
//     control stream it would hold up every NACK behind it until QUIC
//     resent it. Its packets come back on the data path, a RetransmitReject
//     on a new unidirectional stream. Counters of the client's datagrams
//     pass a 64-wide anti-replay window. wire.SnapshotRequest goes up the
//     control stream; the snapshot comes on a new unidirectional stream,
//     closed by the SnapshotEnd packet.
//   - Subscribe mode snapshot sends a snapshot on a stream and live datagrams;
//     mode from-seq retransmits from FromSeq up to the live edge, then live.
//     Live delivery starts before the snapshot or retransmission so there is
//     no hole between them; the receiver's arbiter drops the overlap.
//
// On a stream every packet is preceded by its length as a u32 little-endian;
// lengths above [MaxStreamPacket] end the stream as malformed.
//
// The server ([Server]) serves from a [Feed] supplied by its owner (publisher
// or relay) and fans live packets out with [Server.Publish], which never
// blocks: each client has its own bounded queue and sender goroutine, and a
// client whose queue is full loses live packets (counted and named in
// [Server.Stats]) and recovers by NACK or snapshot. A client that does not
// keep up for longer than ServerConfig.SlowCutoff (its queue full, its
// reports showing more than ServerConfig.SlowLoss lost, or no report while
// datagrams go out) is closed with [CodeSlowConsumer] and a reason that
// [Client.Run] returns. NACKs are admitted and capped by a gap.Policy (the
// requester is the peer's IP address). The client ([Client]) hands every
// packet to a [Handler] and implements gap.Requester for NACKs.
package link
