package link

import "time"

// ServerStats is a snapshot of a link server's counters (DESIGN.md,
// "Promises": a slow downstream is named in the metrics).
type ServerStats struct {
	Clients  int         // connected clients
	Accepted uint64      // authenticated connections since the start
	Refused  uint64      // handshakes refused: unknown CA, no certificate, wrong ALPN, a name not allowed
	Peers    []PeerStats // one per connected client, ordered by remote address
	// BadPublish counts packets given to Publish without a valid header.
	BadPublish uint64
	// CutOff counts clients disconnected as slow consumers
	// (ServerConfig.SlowCutoff) since the start; CutOffByName the same by
	// certificate name (a cut-off client redials and may be cut off again).
	CutOff       uint64
	CutOffByName map[string]uint64
	// Disconnects counts clients gone since the start by certificate name
	// and reason (the Disconnect… constants; a refused handshake has no
	// name).
	Disconnects map[Disconnect]uint64
	// StrayData counts data-path datagrams from addresses that are no
	// connected client's: dropped.
	StrayData uint64
	// NotAllowed counts clients refused after their handshake, or
	// disconnected by SetAllowNames, because their certificate name is not
	// on the allow list (CodeNotAllowed); NotAllowedByName the same by name.
	NotAllowed       uint64
	NotAllowedByName map[string]uint64
}

// PeerStats are one connected client's counters.
type PeerStats struct {
	Remote   string   // remote UDP address
	Name     string   // common name of the client's certificate
	Channels []uint16 // subscribed channels, ascending
	Queued   int      // live packets waiting in the client's queue
	// Lag is how long the oldest of them has waited (0 when none does).
	Lag       time.Duration
	Datagrams uint64 // live packets sent
	Dropped   uint64 // live packets dropped because the client's queue was full
	// Retransmitted counts retransmitted packets sent on the data path.
	Retransmitted uint64
	// Sealed counts the data datagrams sent to the client (live and
	// retransmitted, after splitting); SendFailed those the socket refused.
	Sealed, SendFailed uint64
	Split              uint64 // packets split to fit MaxDataPacket
	Oversize           uint64 // packets dropped: one message alone exceeds MaxDataPacket
	// Loss is the share of data datagrams the client did not take in over
	// its last receiver reports' window (about a second), 0 to 1.
	Loss float64
	// BadReports counts datagrams from the client on the data path (reports,
	// NACKs) that failed authentication, repeated a counter or did not parse.
	BadReports uint64
	// Busy counts NACKs from the data path dropped because the client
	// already had as many waiting as the server queues (it asks again).
	Busy      uint64
	NACKs     uint64 // retransmit requests answered (including from-seq subscriptions)
	Rejects   uint64 // of which answered by a RetransmitReject
	Refused   uint64 // of which refused by the server's gap.Policy (not allowed, rate limited)
	Snapshots uint64 // snapshots sent (requests and snapshot subscriptions)
	Failed    uint64 // answers cut short by a feed or stream error
	Malformed uint64 // malformed control packets from the client
	CutOff    bool   // being disconnected as a slow consumer (ServerConfig.SlowCutoff)
}

// ClientStats is a snapshot of a link client's counters.
type ClientStats struct {
	Datagrams     uint64 // data datagrams (live and retransmitted packets) opened and delivered
	StreamPackets uint64 // valid packets delivered from answer streams (retransmissions, snapshots, rejects)
	Malformed     uint64 // datagrams or stream packets that failed validation, and broken stream framings
	Streams       uint64 // answer streams received
	QueueFull     uint64 // data datagrams dropped because the client's queue was full (its Handler too slow)
	Foreign       uint64 // data datagrams from an address other than the server's: dropped
	Unsealed      uint64 // data datagrams that failed authentication: dropped
	Reports       uint64 // receiver reports sent
}
