package mcast

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Control message layout on this platform: a header of one word (the length)
// and two int32 (level, type), padded to a word; the payload follows and the
// next message starts at the next word boundary.
const (
	wordSize  = int(unsafe.Sizeof(uintptr(0)))
	cmsgHdr   = unix.SizeofCmsghdr
	cmsgAlign = wordSize
	// oobSize holds an SCM_TIMESTAMPNS (a timespec of two words) and an
	// SO_RXQ_OVFL (a uint32), each with its header.
	oobSize = cmsgHdr + 2*wordSize + cmsgHdr + cmsgAlign
)

// control is what parseControl found in one datagram's control messages.
type control struct {
	kernelTime int64  // SCM_TIMESTAMPNS in ns since the epoch; 0 if absent
	drops      uint32 // SO_RXQ_OVFL: the socket's cumulative drop count
	hasDrops   bool
}

// parseControl reads the receive timestamp and the drop counter from oob,
// the control messages recvmmsg returned for one datagram. It does not
// allocate and ignores anything malformed or unknown.
func parseControl(oob []byte) control {
	var c control
	for len(oob) >= cmsgHdr {
		var n int
		var level, typ int32
		if wordSize == 8 {
			n = int(min(binary.NativeEndian.Uint64(oob), uint64(len(oob))+1))
			level = int32(binary.NativeEndian.Uint32(oob[8:]))
			typ = int32(binary.NativeEndian.Uint32(oob[12:]))
		} else {
			n = int(binary.NativeEndian.Uint32(oob))
			level = int32(binary.NativeEndian.Uint32(oob[4:]))
			typ = int32(binary.NativeEndian.Uint32(oob[8:]))
		}
		if n < cmsgHdr || n > len(oob) {
			return c
		}
		data := oob[cmsgHdr:n]
		if level == unix.SOL_SOCKET {
			switch typ {
			case unix.SCM_TIMESTAMPNS:
				if len(data) >= 2*wordSize {
					var sec, nsec int64
					if wordSize == 8 {
						sec = int64(binary.NativeEndian.Uint64(data))
						nsec = int64(binary.NativeEndian.Uint64(data[8:]))
					} else {
						sec = int64(int32(binary.NativeEndian.Uint32(data)))
						nsec = int64(int32(binary.NativeEndian.Uint32(data[4:])))
					}
					c.kernelTime = sec*1e9 + nsec
				}
			case unix.SO_RXQ_OVFL:
				if len(data) >= 4 {
					c.drops = binary.NativeEndian.Uint32(data)
					c.hasDrops = true
				}
			}
		}
		next := (n + cmsgAlign - 1) &^ (cmsgAlign - 1)
		if next >= len(oob) {
			return c
		}
		oob = oob[next:]
	}
	return c
}
