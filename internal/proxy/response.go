package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/webrouter/webrouter/internal/head"
)

// The fast path reads a backend's response head itself instead of with
// http.ReadResponse: the head is found whole in the connection's read
// buffer, copied into one string, and cut into the header map without a
// string per field; the response and its body readers belong to the
// connection and are reused. It accepts what http.ReadResponse accepts,
// with the same framing (Content-Length, Transfer-Encoding, close) and the
// same body, trailers included, except where RFC 9112 lets an
// intermediary refuse what a client may tolerate; these are refused
// (the client then gets 502):
//   - a head larger than maxHead (32 KiB; nginx's default limit is
//     4–8 KiB): the connection's read buffer starts smaller and grows to
//     maxHead for such a head (backendConn.grow);
//   - a field folded over several lines (obs-fold);
//   - a field name that is not a token (a space before the colon);
//   - a status code other than three digits from 100 to 999;
//   - a trailer section not ended by CRLF CRLF (net/http wants one too,
//     but accepts an earlier bare-LF end).
//
// Unlike http.ReadResponse it does not add Cache-Control for a
// Pragma: no-cache: the backend's fields pass as they came.

// backendResponse is a response head read by readResponse, and its body.
// It belongs to its connection and is overwritten by the next response
// read there. Header is the map the head is read into, cleared first:
// mostly the client's answer's own (see send), else one lent by the pool
// (lent), which goes back to the pool's (pool.returnHeader) once the
// answer has been passed on, so it must not be handed on (its values
// may be).
type backendResponse struct {
	StatusCode    int
	Header        http.Header
	ContentLength int64     // -1: unknown (chunked, or until the connection closes)
	Close         bool      // the connection ends with this response
	lent          bool      // Header is the pool's (pool.headerInto), not the client's answer's
	seen          head.Seen // the framing and hop-by-hop fields the head had
	// passTo, when not nil, is the client's answer's writer, which takes
	// the head's fields as lines (PassFields): the parse sets most of them
	// aside in passed (head.ResponseFields), and only the others go into
	// Header.
	passTo fieldPasser
	passed head.Passed
	// passLen is the Content-Length to announce with the lines (-1: none):
	// the backend's, but for a chunked body.
	passLen int64
	// Trailer holds the trailer fields announced in the head (nil values),
	// then, once Body has returned io.EOF, those that came.
	Trailer http.Header
	// Body reads the body, decoded, and returns io.EOF at its end.
	Body io.Reader

	body head.Body // Body for a Content-Length or a chunked body
}

// readResponse reads the next response head from br, the answer to a
// request with the given method, into r. The fields' values are kept in
// vals' array when it is long enough (see head.RequestFields): r.Header
// holds them there until it is no longer used.
func readResponse(br *bufio.Reader, method string, r *backendResponse, vals []string) error {
	s, err := head.ReadBlock(br, true)
	if err != nil {
		if errors.Is(err, head.ErrTooLarge) {
			err = fmt.Errorf("backend response head larger than the %d-byte read buffer: %w", br.Size(), err)
		}
		return err
	}
	line, fields := head.FirstLine(s)
	proto, status, ok := head.Cut(line, ' ')
	if !ok {
		return malformed("HTTP response", line)
	}
	major, minor, ok := http.ParseHTTPVersion(proto)
	if !ok {
		return malformed("HTTP version", proto)
	}
	code, _, _ := head.Cut(strings.TrimLeft(status, " "), ' ')
	if len(code) != 3 || code[0] < '1' || code[0] > '9' || !digit(code[1]) || !digit(code[2]) {
		return malformed("HTTP status code", code)
	}
	h, lent, to := r.Header, r.lent, r.passTo // the client's answer's, or lent (see send); an interim answer's: reused
	if h == nil {
		h = make(http.Header, strings.Count(fields, "\n"))
	} else {
		clear(h)
	}
	lines := r.passed.Lines // its array is reused (ResponseFields empties it)
	*r = backendResponse{}  // in place: a literal with fields would be built on the stack first
	r.StatusCode = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	r.Header, r.lent, r.passTo, r.passed.Lines, r.ContentLength, r.passLen, r.Body = h, lent, to, lines, -1, -1, http.NoBody
	var seen head.Seen
	if to != nil {
		_, seen, err = head.ResponseFields(fields, r.Header, &r.passed, vals)
	} else {
		_, seen, err = head.RequestFields(fields, r.Header, nil, vals)
	}
	r.seen = seen
	if err != nil {
		return err
	}
	return r.frame(br, method, seen, major, minor)
}

// malformed is the error for a response head's part (what) that is not
// as it must be. A call of its own, kept out of readResponse's stack frame
// (the request's goroutine's stack is cold memory on a router with many
// connections).
//
//go:noinline
func malformed(what, got string) error {
	return fmt.Errorf("malformed %s %s", what, head.Quote(got))
}

// frame works out the body's length and reader from the head, as
// net/http's readTransfer does for a response.
func (r *backendResponse) frame(br *bufio.Reader, method string, seen head.Seen, major, minor int) error {
	h := r.Header
	var f head.Frame
	var err error
	if r.passTo != nil {
		f, err = head.PassedFrame(h, seen, &r.passed, major, minor)
		r.passLen = f.Length // what the field in a map would announce; none for a chunked body (below)
	} else {
		f, err = head.ReadFrame(h, seen, major, minor)
	}
	if err != nil {
		return err
	}
	r.Close, r.Trailer = f.Close, f.Trailer
	switch {
	case method == http.MethodHead:
		r.ContentLength = f.Length
	case r.StatusCode < 200 || r.StatusCode == http.StatusNoContent || r.StatusCode == http.StatusNotModified:
		r.ContentLength = 0
	case f.Chunked:
		delete(h, "Content-Length")
		r.passLen = -1
		r.body.Chunks(br, &r.Trailer)
		r.Body = &r.body
	case f.Length > 0:
		r.ContentLength = f.Length
		r.body.Length(br, f.Length)
		r.Body = &r.body
	case f.Length == 0:
		r.ContentLength = 0
	default: // the body ends when the connection does
		r.Close = true
		r.Body = br
	}
	return nil
}

// fieldPasser is a client's answer's writer (h1's) that takes the fields
// to pass on as lines (head.Passed), written as they are, instead of a
// header map that it would walk, check and write field by field.
type fieldPasser interface {
	PassFields(lines []byte, date bool, length int64)
}

// passer returns the client's answer's writer as a fieldPasser, or nil
// when it is none or the answer's fields must go through its header map:
// the service's headers are applied to them (decorates).
func (x *exchange) passer() fieldPasser {
	if decorates(x.svc, x.https) {
		return nil
	}
	fp, _ := x.rw.ResponseWriter.(fieldPasser)
	return fp
}

// unpass puts the fields the parse set aside back into r.Header, and
// passes no lines: the head had a Connection field, which may list some
// of them as hop-by-hop (responseHead drops those from the map). A call of
// its own: most answers have no Connection field.
//
//go:noinline
func (r *backendResponse) unpass() {
	if len(connectionTokens(r.Header)) == 0 {
		return
	}
	// The lines were checked when parsed: no error.
	_ = head.ParseFields(string(r.passed.Lines), r.Header)
	if r.passLen >= 0 {
		r.Header["Content-Length"] = []string{strconv.FormatInt(r.passLen, 10)}
	}
	r.passTo = nil
}

// contentType is the answer's first Content-Type value ("": none).
func (r *backendResponse) contentType() string {
	if r.passTo != nil {
		return r.passed.ContentType
	}
	return head.Get(r.Header, "Content-Type")
}

// bufferedWhole reports whether the response has a body of known length
// that br, its connection's reader, holds whole already.
func (r *backendResponse) bufferedWhole(br *bufio.Reader) bool {
	return r.Body == io.Reader(&r.body) && r.ContentLength > 0 && int64(br.Buffered()) >= r.ContentLength
}

// keptFields bounds the header maps the pool keeps for the next response:
// one grown for an unusual head is dropped.
const keptFields = 32

func digit(c byte) bool { return '0' <= c && c <= '9' }
