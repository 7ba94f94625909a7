package capture

import (
	"time"

	"github.com/tickcast/tickcast/publisher/source"
)

// Tee returns a sink that records every batch with w, stamped with the time it
// arrived, then forwards it to sink. The batch is forwarded even when
// recording fails; the recording error is then returned (after the sink's own
// error, if any), so the source learns its capture is incomplete.
func Tee(sink source.Sink, w *Writer) source.Sink {
	return source.SinkFunc(func(msgs []byte) error {
		werr := w.Write(time.Now().UnixNano(), msgs)
		if err := sink.Publish(msgs); err != nil {
			return err
		}
		return werr
	})
}
