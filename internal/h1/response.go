package h1

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/webrouter/webrouter/internal/ascii"
	"github.com/webrouter/webrouter/internal/head"
)

// response is the http.ResponseWriter of one request.
type response struct {
	c    *conn
	req  *http.Request
	body *body
	h    http.Header

	wroteHeader bool
	chunked     bool
	noBody      bool  // HEAD, 204, 304
	cl          int64 // declared Content-Length; -1: none
	written     int64
	closeAfter  bool
	asked       bool      // the client asked to close after this request
	seen        head.Seen // which of head.Seen's fields req's head had (RequestSeen)
	err         error     // a write failed
	pass        []byte    // field lines the final head carries as they are (PassFields)
	passDate    bool      // pass has a Date field
	passLen     int64     // the Content-Length PassFields gave, -1: none (see WriteHeader)

	continueMu sync.Mutex // orders a body reader's "100 Continue" before the head
	headerDone bool       // under continueMu: the head was written
}

func (w *response) Header() http.Header {
	if w.h == nil {
		w.h = make(http.Header, 8)
	}
	return w.h
}

func (w *response) WriteHeader(code int) {
	if w.wroteHeader || w.c.hijacked {
		return
	}
	if code < 100 || code > 999 {
		panic("h1: invalid WriteHeader code " + strconv.Itoa(code))
	}
	h := w.Header()
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		// An interim answer (103 Early Hints): sent at once with the
		// headers set so far; the final answer follows.
		bw := w.c.writer()
		writeStatusLine(bw, code)
		writeFields(bw, h)
		bw.WriteString("\r\n")
		if err := bw.Flush(); err != nil {
			w.fail(err)
		}
		return
	}
	w.wroteHeader = true
	if w.body != nil && w.body.expect {
		// No "100 Continue" may start once the final head is on its way.
		w.continueMu.Lock()
		w.headerDone = true
		if !w.body.sent {
			// The client waits for a 100 that will not come, or sends
			// the body anyway: either way the connection is out of step.
			w.closeAfter = true
		}
		w.continueMu.Unlock()
	}
	w.noBody = w.req.Method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified || code < 200
	bw := w.c.writer()
	writeStatusLine(bw, code)
	if w.pass != nil {
		bw.Write(w.pass)
		w.pass = nil
	}
	// The fields go out in one pass over the map, which sets aside those
	// the framing depends on: they are written after, as it decides.
	f := writeHeadFields(bw, h)
	f.date = f.date || w.passDate
	// The Content-Length field to send, if any: Header()'s, else the
	// length PassFields gave; none for a 204.
	cl, hasCL := w.passLen, w.passLen >= 0 && f.cl == nil
	if len(f.cl) == 1 {
		if n, ok := head.Decimal(f.cl[0]); ok {
			cl, hasCL = n, true
		} else if n, err := strconv.ParseInt(f.cl[0], 10, 64); err == nil && n >= 0 {
			cl, hasCL = n, true
		}
	}
	if code == http.StatusNoContent {
		hasCL = false
	}
	if hasCL {
		w.cl = cl
	}
	trailers := f.trailer != nil
	switch {
	case w.noBody:
	case w.cl >= 0 && !trailers:
	case w.req.ProtoAtLeast(1, 1):
		w.chunked, w.cl, hasCL = true, -1, false
	default:
		w.closeAfter = true // HTTP/1.0: the close ends the body
		if trailers {
			w.cl, hasCL = -1, false
		}
	}
	if httpguts.HeaderValuesContainsToken(f.conn, "close") {
		w.closeAfter = true
	}
	if hasCL {
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), cl, 10))
		bw.WriteString("\r\n")
	}
	if w.chunked {
		if trailers {
			writeField(bw, "Trailer", f.trailer) // else nowhere to send them
		}
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if !f.date {
		bw.WriteString("Date: ")
		bw.WriteString(w.c.s.httpDate())
		bw.WriteString("\r\n")
	}
	switch {
	case w.closeAfter:
		bw.WriteString("Connection: close\r\n")
	case !w.req.ProtoAtLeast(1, 1):
		bw.WriteString("Connection: keep-alive\r\n")
	}
	bw.WriteString("\r\n")
}

// headFields are the handler's fields the head's framing depends on, as
// writeHeadFields found them.
type headFields struct {
	cl, trailer, conn []string // Content-Length's, Trailer's and Connection's values
	date              bool     // a Date field is set (maybe empty: no Date then)
}

// writeHeadFields writes h's fields but those the writer sets itself
// (Connection, Transfer-Encoding, Keep-Alive), trailers (http.TrailerPrefix),
// and those the framing decides on (Content-Length, Trailer), which it
// returns with Connection's values and whether Date is set. It is
// writeFields with the lookups WriteHeader needs made on the way.
func writeHeadFields(bw *bufio.Writer, h http.Header) (f headFields) {
	for k, vv := range h {
		switch k {
		case "Content-Length":
			f.cl = vv
			continue
		case "Trailer":
			f.trailer = vv
			continue
		case "Connection":
			f.conn = vv
			continue
		case "Transfer-Encoding", "Keep-Alive":
			continue
		case "Date":
			f.date = true
		}
		if strings.HasPrefix(k, http.TrailerPrefix) {
			continue
		}
		writeField(bw, k, vv)
	}
	return f
}

func writeStatusLine(bw *bufio.Writer, code int) {
	if line := statusLine(code); line != "" {
		bw.WriteString(line)
		return
	}
	bw.WriteString("HTTP/1.1 ")
	bw.WriteByte(byte('0' + code/100)) // 100 ≤ code ≤ 999 (WriteHeader)
	bw.WriteByte(byte('0' + code/10%10))
	bw.WriteByte(byte('0' + code%10))
	bw.WriteByte(' ')
	text := http.StatusText(code)
	if text == "" {
		text = "status code " + strconv.Itoa(code)
	}
	bw.WriteString(text)
	bw.WriteString("\r\n")
}

// statusLine is the status line of the commonest answers, written in one
// piece ("": another code, put together by writeStatusLine).
func statusLine(code int) string {
	switch code {
	case http.StatusOK:
		return "HTTP/1.1 200 OK\r\n"
	case http.StatusNoContent:
		return "HTTP/1.1 204 No Content\r\n"
	case http.StatusPartialContent:
		return "HTTP/1.1 206 Partial Content\r\n"
	case http.StatusMovedPermanently:
		return "HTTP/1.1 301 Moved Permanently\r\n"
	case http.StatusFound:
		return "HTTP/1.1 302 Found\r\n"
	case http.StatusNotModified:
		return "HTTP/1.1 304 Not Modified\r\n"
	case http.StatusPermanentRedirect:
		return "HTTP/1.1 308 Permanent Redirect\r\n"
	case http.StatusNotFound:
		return "HTTP/1.1 404 Not Found\r\n"
	case http.StatusBadGateway:
		return "HTTP/1.1 502 Bad Gateway\r\n"
	case http.StatusServiceUnavailable:
		return "HTTP/1.1 503 Service Unavailable\r\n"
	}
	return ""
}

// writeFields writes h's fields, with invalid names left out and line
// breaks in values turned to spaces (as net/http does).
func writeFields(bw *bufio.Writer, h http.Header) {
	for k, vv := range h {
		writeField(bw, k, vv)
	}
}

// writeField writes the field k with its values vv, as writeFields does.
func writeField(bw *bufio.Writer, k string, vv []string) {
	if !head.ValidName(k) {
		return
	}
	for _, v := range vv {
		// A value with a control byte may hold a line break (most never
		// do: ascii.Plain looks at eight bytes at a time).
		if n := len(v); !ascii.Plain(v) || n > 0 && (maySpace(v[0]) || maySpace(v[n-1])) {
			v = cleanValue(v)
		}
		if bw.Available() < len(k)+len(v)+4 {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
			continue
		}
		// The common case: the line fits the buffer, one copy.
		b := append(bw.AvailableBuffer(), k...)
		b = append(b, ": "...)
		b = append(b, v...)
		bw.Write(append(b, "\r\n"...))
	}
}

// cleanValue makes a field value fit to send: line breaks become spaces,
// surrounding white space goes. A call of its own, kept out of
// writeFields' stack frame (the request's goroutine's stack is cold memory
// on a router with many connections).
//
//go:noinline
func cleanValue(v string) string {
	if strings.IndexByte(v, '\n') >= 0 || strings.IndexByte(v, '\r') >= 0 {
		v = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(v)
	}
	return strings.TrimSpace(v)
}

// maySpace reports whether c may begin or end white space that
// strings.TrimSpace removes: an ASCII space or control byte, or a byte of
// a multi-byte (Unicode) character.
func maySpace(c byte) bool { return c <= ' ' || c >= 0x80 }

func (w *response) Write(p []byte) (int, error) {
	if w.c.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.noBody {
		if w.req.Method == http.MethodHead {
			return len(p), nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	var err error
	if w.cl >= 0 && w.written+int64(len(p)) > w.cl {
		p, err = p[:w.cl-w.written], http.ErrContentLength
	}
	if len(p) == 0 {
		return 0, err
	}
	bw := w.c.writer()
	if len(p) > bw.Available() && w.c.rio.Ready() {
		return w.writeVectored(p, err)
	}
	if w.chunked {
		// The chunk size is formatted in bw's free space: no allocation.
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), int64(len(p)), 16))
		bw.WriteString("\r\n")
	}
	n, werr := bw.Write(p)
	if w.chunked && werr == nil {
		_, werr = bw.WriteString("\r\n")
	}
	w.written += int64(n)
	if werr != nil {
		w.fail(werr)
		return n, werr
	}
	return n, err
}

// writeVectored sends what is buffered, p and its chunk framing in one
// writev: a large write costs one system call, not three.
func (w *response) writeVectored(p []byte, lenErr error) (int, error) {
	c := w.c
	held, err := c.out.take(c.writer())
	if err != nil {
		w.fail(err)
		return 0, err
	}
	bufs := make([][]byte, 0, 4)
	if len(held) > 0 {
		bufs = append(bufs, held)
	}
	before := len(held)
	if w.chunked {
		size := strconv.AppendInt(make([]byte, 0, 20), int64(len(p)), 16)
		size = append(size, '\r', '\n')
		bufs = append(bufs, size)
		before += len(size)
	}
	bufs = append(bufs, p)
	if w.chunked {
		bufs = append(bufs, crlf)
	}
	sent, werr := c.rio.Writev(bufs)
	n := int(min(max(sent-int64(before), 0), int64(len(p))))
	w.written += int64(n)
	if werr != nil {
		w.fail(werr)
		return n, werr
	}
	return n, lenErr
}

var crlf = []byte("\r\n")

func (w *response) fail(err error) {
	if w.err == nil {
		w.err = err
	}
	w.closeAfter = true
}

// Flush sends what is buffered.
func (w *response) Flush() { _ = w.FlushError() }

// FlushError sends what is buffered and reports a failure.
func (w *response) FlushError() error {
	if w.c.hijacked {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return w.err
	}
	if err := w.c.writer().Flush(); err != nil {
		w.fail(err)
		return err
	}
	return nil
}

// Hijack hands the connection to the handler: the server no longer reads,
// writes or closes it.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c := w.c
	if c.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if w.wroteHeader {
		if err := c.writer().Flush(); err != nil {
			return nil, nil, err
		}
	}
	c.disarm()
	c.rd.Clear() // the idle or header deadline may still be set
	c.hijacked = true
	c.setState(http.StateHijacked)
	return c.nc, bufio.NewReadWriter(c.reader(), c.writer()), nil
}

// CutOnGone makes x's Cut run when the request's context ends (the client
// is seen gone, the connection is cut off or closed) while this request is
// served; it is cleared when the handler returns (nil clears it before).
// If the context has ended already, Cut runs at once. Cut runs on the
// goroutine that saw the end (the client watch, the server's reaction to
// BaseContext ending, or the handler's own), under the connection's lock
// for it: it must not block, nor call CutOnGone. Once the handler has
// returned (or CutOnGone has given another), x is not cut any more.
func (w *response) CutOnGone(x interface{ Cut() }) { w.c.setCutter(x) }

// PassFields gives WriteHeader field lines to write into the final
// answer's head as they are, before Header()'s fields: a proxy passes on
// the fields of an answer it read (head.ResponseFields) without a header
// map. The caller vouches for them, as they are not looked at: whole
// lines, each "name: value" and CRLF, the name a token and the value
// without control bytes but HTAB; none of a field the writer decides on
// (Connection, Keep-Alive, Transfer-Encoding, Trailer, Content-Length:
// those go into Header(), where it finds them); a Date field only if date
// is set, which keeps the writer from adding its own. length is the
// answer's Content-Length (-1: none): the writer takes it as it takes a
// Content-Length field in Header() (which wins if there is one). lines
// are used by WriteHeader, not kept past it: they must not change before
// it is called. A second call replaces the first.
func (w *response) PassFields(lines []byte, date bool, length int64) {
	w.pass, w.passDate, w.passLen = lines, date, length
}

// RequestSeen reports which of the fields head.Seen names the request's
// head had, as parsed: a field it does not report is not in req.Header,
// unless the handler (or one before it) put it there, so a handler that
// leaves req.Header as it came can skip the lookup.
func (w *response) RequestSeen() head.Seen { return w.seen }

// SetReadDeadline sets the connection's read deadline (request body reads).
func (w *response) SetReadDeadline(t time.Time) error { return w.c.rd.Set(t) }

// SetWriteDeadline sets the connection's write deadline.
func (w *response) SetWriteDeadline(t time.Time) error { return w.c.nc.SetWriteDeadline(t) }

// EnableFullDuplex reports success: the body stays readable after the
// response has begun.
func (w *response) EnableFullDuplex() error { return nil }

// finish completes the response (the handler returned) and reports
// whether the connection can carry another request.
func (w *response) finish() bool {
	if !w.wroteHeader {
		// Nothing written: an empty answer, framed as such.
		if h := w.Header(); h["Content-Length"] == nil && w.req.Method != http.MethodHead {
			h.Set("Content-Length", "0")
		}
		w.WriteHeader(http.StatusOK)
	}
	bw := w.c.writer()
	if w.chunked && w.err == nil {
		bw.WriteString("0\r\n")
		w.writeTrailers(bw)
		bw.WriteString("\r\n")
	}
	if w.cl >= 0 && !w.noBody && w.written < w.cl {
		w.closeAfter = true // a short body: the client must not wait for the rest
	}
	c := w.c
	if w.err == nil && !w.closeAfter && (w.body == nil || w.body.eof.Load()) && c.rio.Ready() && c.buffered() == 0 {
		// The connection stays, in step with the client and with nothing
		// of a next request read yet: what is left of the answer goes out
		// as the loop starts waiting for that request (conn.flushAwait).
		c.held = true
		return true
	}
	if w.err == nil && w.asked && (w.body == nil || w.body.eof.Load()) && c.rio.Ready() && c.buffered() == 0 {
		// The client asked to close and has sent all it may: the end of
		// the answer can wait for the FIN and go with it (close follows
		// at once). Were anything unread, the close would reset the
		// connection and lose what waits.
		c.out.last = &c.rio
	}
	err := bw.Flush()
	c.out.last = nil
	if err != nil {
		w.fail(err)
	}
	if w.err != nil || w.closeAfter {
		return false
	}
	if w.body != nil {
		return w.body.drain()
	}
	return true
}

// writeTrailers writes the trailers: the fields named in "Trailer" and
// those set with http.TrailerPrefix.
func (w *response) writeTrailers(bw *bufio.Writer) {
	h := w.h
	for _, v := range h["Trailer"] {
		for _, k := range strings.Split(v, ",") {
			k = http.CanonicalHeaderKey(strings.TrimSpace(k))
			if vv, ok := h[k]; ok && httpguts.ValidTrailerHeader(k) {
				writeField(bw, k, vv)
			}
		}
	}
	for k, vv := range h {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok && httpguts.ValidTrailerHeader(name) {
			writeField(bw, name, vv)
		}
	}
}

// httpDate returns the current time in HTTP's format, formatted at most
// once a second.
func (s *Server) httpDate() string {
	now := time.Now().Unix()
	if d := s.date.Load(); d != nil && d.unix == now {
		return d.text
	}
	d := &cachedDate{unix: now, text: time.Unix(now, 0).UTC().Format(http.TimeFormat)}
	s.date.Store(d)
	return d.text
}

type cachedDate struct {
	unix int64
	text string
}
