package link

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/tickcast/tickcast/wire"
)

// ctlRecorder is a controlHandler that records what it is given.
type ctlRecorder struct {
	subs       []wire.Subscribe
	nacks      []wire.RetransmitRequest
	snaps      []wire.SnapshotRequest
	bad        int
	failOnNACK error
}

func (r *ctlRecorder) subscribe(s wire.Subscribe) error {
	r.subs = append(r.subs, s)
	return nil
}

func (r *ctlRecorder) retransmit(q wire.RetransmitRequest) error {
	r.nacks = append(r.nacks, q)
	return r.failOnNACK
}

func (r *ctlRecorder) snapshot(q wire.SnapshotRequest) error {
	r.snaps = append(r.snaps, q)
	return nil
}

func (r *ctlRecorder) malformed(error) { r.bad++ }

// controlStream is a valid control stream: a subscription of each mode, a
// NACK and a snapshot request, two messages sharing one packet.
func controlStream() []byte {
	var b []byte
	b = appendControlFrame(b, 1, 0, 0, wire.Subscribe{Channel: 1, Mode: wire.SubscribeLive})
	b = appendControlFrame(b, 2, 0, 0, wire.Subscribe{Channel: 2, Mode: wire.SubscribeSnapshot})
	b = appendControlFrame(b, 3, 7, 0, wire.Subscribe{Channel: 3, Mode: wire.SubscribeFromSeq, Session: 7, FromSeq: 100})
	b = appendControlFrame(b, 3, 7, 0, wire.RetransmitRequest{Channel: 3, Count: 5, Session: 7, FirstSeq: 120})
	b = appendControlFrame(b, 2, 0, 0, wire.SnapshotRequest{Channel: 2, Instrument: 9})
	// Two messages in one packet are both handled.
	pkt := wire.AppendControl(nil, 4, 0, 0, wire.SnapshotRequest{Channel: 4})
	pkt = wire.SnapshotRequest{Channel: 5}.Append(pkt)
	wire.SetCount(pkt, 2)
	return appendFrame(b, pkt)
}

func TestReadControlDispatches(t *testing.T) {
	t.Parallel()
	var r ctlRecorder
	if err := readControl(bytes.NewReader(controlStream()), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.subs) != 3 || r.subs[2] != (wire.Subscribe{Channel: 3, Mode: wire.SubscribeFromSeq, Session: 7, FromSeq: 100}) {
		t.Errorf("subscriptions %+v", r.subs)
	}
	if len(r.nacks) != 1 || r.nacks[0] != (wire.RetransmitRequest{Channel: 3, Count: 5, Session: 7, FirstSeq: 120}) {
		t.Errorf("NACKs %+v", r.nacks)
	}
	if len(r.snaps) != 3 || r.snaps[0] != (wire.SnapshotRequest{Channel: 2, Instrument: 9}) || r.snaps[2].Channel != 5 {
		t.Errorf("snapshot requests %+v", r.snaps)
	}
	if r.bad != 0 {
		t.Errorf("%d malformed", r.bad)
	}
}

func TestReadControlErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	r := ctlRecorder{failOnNACK: boom}
	if err := readControl(bytes.NewReader(controlStream()), &r); !errors.Is(err, boom) {
		t.Errorf("handler error: %v, want boom", err)
	}
	bad := appendControlFrame(nil, 1, 0, 0, wire.Subscribe{Channel: 1, Mode: 0})
	var pe protocolError
	if err := readControl(bytes.NewReader(bad), &ctlRecorder{}); !errors.As(err, &pe) {
		t.Errorf("mode 0: %v, want a protocol error", err)
	}
	huge := binary.LittleEndian.AppendUint32(nil, MaxStreamPacket+1)
	if err := readControl(bytes.NewReader(huge), &ctlRecorder{}); !errors.Is(err, errFrameLength) {
		t.Errorf("huge frame: %v", err)
	}
}

// FuzzControl feeds arbitrary control streams to the server's control
// handler: it never panics, only valid modes reach subscribe, and every
// request it passes on re-encodes into a packet that decodes to the same.
func FuzzControl(f *testing.F) {
	f.Add(controlStream())
	f.Add(appendFrame(nil, []byte("garbage")))
	f.Add(appendFrame(nil, mkPacket(0, 1, 1, 1, 1)))
	f.Add(appendControlFrame(nil, 1, 0, 0, wire.Subscribe{Channel: 1, Mode: 4}))
	f.Add(appendControlFrame(nil, 1, 0, 0, wire.Subscribe{Channel: 1, Mode: 5}))
	f.Add(binary.LittleEndian.AppendUint32(nil, 0xffffffff))
	f.Fuzz(func(t *testing.T, in []byte) {
		var r ctlRecorder
		_ = readControl(bytes.NewReader(in), &r)
		for _, s := range r.subs {
			if s.Mode < wire.SubscribeLive || s.Mode > wire.SubscribeRecovery {
				t.Fatalf("subscribe with mode %d passed on", s.Mode)
			}
			if got, err := wire.DecodeSubscribe(s.Append(nil)); err != nil || got != s {
				t.Fatalf("subscribe %+v does not round-trip: %+v %v", s, got, err)
			}
		}
		for _, q := range r.nacks {
			if got, err := wire.DecodeRetransmitRequest(q.Append(nil)); err != nil || got != q {
				t.Fatalf("NACK %+v does not round-trip", q)
			}
		}
		// A single packet straight to the dispatcher, too.
		_ = handleControl(in, &ctlRecorder{})
	})
}
