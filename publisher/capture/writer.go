package capture

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Writer appends records to a capture file through a buffer. It is safe for
// concurrent use; records keep the order of the Write calls.
type Writer struct {
	mu     sync.Mutex
	bw     *bufio.Writer
	file   io.Closer // closed by Close when Create opened it
	hdr    [RecordHeaderLen]byte
	err    error // sticky write error
	closed bool
}

// NewWriter writes a file header (magic, version, creation time) to w and
// returns a Writer for the records. Close flushes but does not close w.
func NewWriter(w io.Writer) (*Writer, error) {
	cw := &Writer{bw: bufio.NewWriterSize(w, 64<<10)}
	if _, err := cw.bw.Write(appendHeader(nil, time.Now())); err != nil {
		return nil, fmt.Errorf("capture: write header: %w", err)
	}
	return cw, nil
}

// Create creates (or truncates) the file at path and returns a Writer on it;
// Close closes the file.
func Create(path string) (*Writer, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	w, err := NewWriter(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	w.file = f
	return w, nil
}

// ErrClosed is returned by writes to a closed Writer.
var ErrClosed = errors.New("capture: writer closed")

// Write appends one record: msgs, a batch as a source published it (whole
// wire messages, 1 byte to 16 MiB), received at rxTime ns since the Unix
// epoch. A batch that is not whole messages is refused; a failed write is
// returned again by every later call.
func (w *Writer) Write(rxTime int64, msgs []byte) error {
	if err := validate(msgs); err != nil {
		return fmt.Errorf("capture: write: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	putRecordHeader(&w.hdr, rxTime, msgs)
	if _, err := w.bw.Write(w.hdr[:]); err != nil {
		w.err = fmt.Errorf("capture: write: %w", err)
		return w.err
	}
	if _, err := w.bw.Write(msgs); err != nil {
		w.err = fmt.Errorf("capture: write: %w", err)
		return w.err
	}
	return nil
}

// Flush writes the buffered records to the underlying writer.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	return w.flush()
}

func (w *Writer) flush() error {
	if w.err != nil {
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("capture: flush: %w", err)
	}
	return w.err
}

// Close flushes the records and, for a Writer from [Create], closes the file.
// It is idempotent: later calls return nil.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.flush()
	if w.file != nil {
		if cerr := w.file.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("capture: close: %w", cerr)
		}
	}
	return err
}
