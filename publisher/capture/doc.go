// Package capture records what a tick source delivered and replays it
// (DESIGN.md, "Packages": publisher/... sources, capture replay).
//
// A [Writer] appends each batch a source published, with the time it was
// received, to a capture file; [Tee] puts one between a source and its sink. A
// [Reader] reads the batches back, and a [Replay] is a [source.Source] that
// publishes them again at the recorded pace, N times faster, or as fast as
// possible. A replayed run publishes the same messages in the same batches and
// order, so the publisher's sequencer assigns them the same sequence numbers.
//
// # File format, version 1
//
// All integers are little-endian. A file is a 24-byte header, then records.
//
// Header:
//
//	off size type  field
//	  0    5 bytes magic "TCCAP"
//	  5    1 u8    version = 1
//	  6    2 u16   reserved, 0
//	  8    8 i64   creation time, ns since the Unix epoch
//	 16    4 u32   reserved, 0
//	 20    4 u32   CRC-32C (Castagnoli) of bytes 0..19
//
// Record, one per published batch:
//
//	off size type  field
//	  0    8 i64   receive time, ns since the Unix epoch
//	  8    4 u32   n: length of the messages, 1..16 MiB
//	 12    4 u32   CRC-32C of bytes 0..11 of the record, then of the messages
//	 16    n bytes the batch: whole wire-format market messages, each with its
//	               4-byte message header (DESIGN.md, "Wire format v1")
//
// A file ends after its last whole record. The reader checks every CRC, every
// length and that each batch is made of whole messages (no control messages)
// before handing it out: a file cut short ends in a clear truncation error and
// a damaged one in an error naming the offset of the bad record.
package capture
