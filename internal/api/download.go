package api

import (
	"bufio"
	"context"
	"io"
	"mime"
	"net/http"
)

// download is an answer a handler streams instead of encoding JSON: a
// CSV export, written row by row so that memory stays flat however big
// the report.
type download struct {
	// name is the file name offered to the client.
	name  string
	write func(ctx context.Context, w io.Writer) error
}

// downloadBuffer is how much of an export is held before the first byte
// is sent: an error within it still gets a proper JSON error answer.
const downloadBuffer = 64 << 10

// sendDownload streams d. An error once the answer has begun cannot
// change its status; the connection is then aborted so that the client
// sees a failed transfer, never a file that looks whole but is short.
func (s *Server) sendDownload(w http.ResponseWriter, rq *request, status int, d *download) {
	sent := &startWriter{w: w, start: func() {
		h := w.Header()
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": d.name}))
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(status)
	}}
	bw := bufio.NewWriterSize(sent, downloadBuffer)
	err := d.write(rq.Context(), bw)
	if err == nil {
		err = bw.Flush()
	}
	switch {
	case err == nil:
		sent.begin()
	case !sent.started:
		e := asError(err)
		if e.Status >= 500 {
			s.log.Error("API export failed", "request_id", rq.id, "route", rq.route.Path, "error", err)
		}
		writeError(w, e)
	default:
		s.log.Error("API export failed after it began; the connection is aborted", "request_id", rq.id,
			"route", rq.route.Path, "error", err)
		panic(http.ErrAbortHandler)
	}
}

// startWriter sends the answer's header at the first byte.
type startWriter struct {
	w       http.ResponseWriter
	start   func()
	started bool
}

func (s *startWriter) begin() {
	if !s.started {
		s.started = true
		s.start()
	}
}

func (s *startWriter) Write(b []byte) (int, error) {
	s.begin()
	return s.w.Write(b)
}
