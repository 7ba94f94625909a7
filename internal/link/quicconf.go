package link

import (
	"crypto/tls"
	"encoding/binary"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/tickcast/tickcast/wire"
)

// ALPN is the application protocol the link negotiates in its TLS handshake
// ("tickcast/1" carried live packets as QUIC DATAGRAMs; 2 carries them on
// the sealed data path).
const ALPN = "tickcast/2"

// Connection timing, both ends.
const (
	// IdleTimeout closes a link that heard nothing for this long.
	IdleTimeout = 10 * time.Second
	// KeepAlive is how often an idle link pings so it stays open.
	KeepAlive = 2 * time.Second
	// controlTimeout bounds how long a server waits for a new client's
	// control stream.
	controlTimeout = 10 * time.Second
	// maxUniStreams is how many answer streams a client accepts at once.
	maxUniStreams = 256
	// workersPerClient bounds the retransmit and snapshot answers a server
	// prepares for one client at the same time.
	workersPerClient = 4
	// nackQueue bounds the NACKs from a client's data path waiting for an
	// answer worker.
	nackQueue = 256
	// reportInterval is how often a client sends a receiver report.
	reportInterval = 250 * time.Millisecond
)

// Application error codes sent when a link or stream is closed.
const (
	codeOK          quic.ApplicationErrorCode = 0 // normal close
	codeShutdown    quic.ApplicationErrorCode = 1 // the server is stopping
	codeProtocol    quic.ApplicationErrorCode = 2 // the peer broke the protocol
	codeNoControl   quic.ApplicationErrorCode = 3 // no control stream in time
	streamFailed    quic.StreamErrorCode      = 1 // the answer could not be completed
	streamMalformed quic.StreamErrorCode      = 2 // the stream's framing is malformed
)

// tlsConfig returns a copy of c set up for the link: ALPN and TLS 1.3.
func tlsConfig(c *tls.Config) *tls.Config {
	c = c.Clone()
	c.NextProtos = []string{ALPN}
	c.MinVersion = tls.VersionTLS13
	return c
}

// quicConfig is the QUIC configuration of both ends: keep-alive,
// and a peer may open only what the protocol needs (the server accepts one
// control stream and no unidirectional stream; the client accepts no
// bidirectional stream).
func quicConfig(server bool) *quic.Config {
	c := &quic.Config{
		MaxIdleTimeout:  IdleTimeout,
		KeepAlivePeriod: KeepAlive,
	}
	if server {
		c.MaxIncomingStreams = 1
		c.MaxIncomingUniStreams = -1
	} else {
		c.MaxIncomingStreams = -1
		c.MaxIncomingUniStreams = maxUniStreams
	}
	return c
}

// appendControlFrame appends a length-prefixed control packet holding m.
func appendControlFrame[M interface{ Append([]byte) []byte }](b []byte, channel uint16, session uint64, sendTime int64, m M) []byte {
	at := len(b)
	b = append(b, 0, 0, 0, 0)
	b = wire.AppendControl(b, channel, session, sendTime, m)
	binary.LittleEndian.PutUint32(b[at:], uint32(len(b)-at-lenPrefix))
	return b
}
