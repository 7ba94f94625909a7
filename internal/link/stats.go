package link

// ServerStats is a snapshot of a link server's counters (DESIGN.md,
// "Promises": a slow downstream is named in the metrics).
type ServerStats struct {
	Clients  int         // connected clients
	Accepted uint64      // authenticated connections since the start
	Refused  uint64      // handshakes refused: unknown CA, no certificate, wrong ALPN
	Peers    []PeerStats // one per connected client, ordered by remote address
	// BadPublish counts packets given to Publish without a valid header.
	BadPublish uint64
	// CutOff counts clients disconnected as slow consumers
	// (ServerConfig.SlowCutoff) since the start.
	CutOff uint64
}

// PeerStats are one connected client's counters.
type PeerStats struct {
	Remote    string   // remote UDP address
	Name      string   // common name of the client's certificate
	Channels  []uint16 // subscribed channels, ascending
	Queued    int      // live packets waiting in the client's queue
	Datagrams uint64   // live datagrams sent (after splitting)
	Dropped   uint64   // live packets dropped because the client's queue was full
	Split     uint64   // live packets split to fit the datagram limit
	Oversize  uint64   // live packets dropped: one message alone exceeds the datagram limit
	NACKs     uint64   // retransmit requests answered (including from-seq subscriptions)
	Rejects   uint64   // of which answered by a RetransmitReject
	Refused   uint64   // of which refused by the server's gap.Policy (not allowed, rate limited)
	Snapshots uint64   // snapshots sent (requests and snapshot subscriptions)
	Failed    uint64   // answers cut short by a feed or stream error
	Malformed uint64   // malformed control packets from the client
	CutOff    bool     // being disconnected as a slow consumer (ServerConfig.SlowCutoff)
}

// ClientStats is a snapshot of a link client's counters.
type ClientStats struct {
	Datagrams     uint64 // valid live datagrams delivered
	StreamPackets uint64 // valid packets delivered from answer streams (retransmissions, snapshots, rejects)
	Malformed     uint64 // datagrams or stream packets that failed validation, and broken stream framings
	Streams       uint64 // answer streams received
}
