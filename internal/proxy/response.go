package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
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
//   - a head that does not fit the read buffer (32 KiB; nginx's default
//     limit is 4–8 KiB);
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
// read there.
type backendResponse struct {
	StatusCode    int
	Header        http.Header
	ContentLength int64 // -1: unknown (chunked, or until the connection closes)
	Close         bool  // the connection ends with this response
	// Trailer holds the trailer fields announced in the head (nil values),
	// then, once Body has returned io.EOF, those that came.
	Trailer http.Header
	// Body reads the body, decoded, and returns io.EOF at its end.
	Body io.Reader

	lb lenBody   // Body for a Content-Length
	cb chunkBody // Body for a chunked body
	eb eofBody   // Body for a body that ends with the connection
}

// errHeadTooLarge is a head (or a trailer section) that does not fit the
// connection's read buffer.
var errHeadTooLarge = errors.New("backend response head too large")

// readResponse reads the next response head from br, the answer to a
// request with the given method, into r.
func readResponse(br *bufio.Reader, method string, r *backendResponse) error {
	s, err := readBlock(br, true)
	if err != nil {
		return err
	}
	nl := strings.IndexByte(s, '\n')
	line, fields := trimCR(s[:nl]), s[nl+1:]
	proto, status, ok := strings.Cut(line, " ")
	if !ok {
		return fmt.Errorf("malformed HTTP response %s", quote(line))
	}
	major, minor, ok := http.ParseHTTPVersion(proto)
	if !ok {
		return fmt.Errorf("malformed HTTP version %s", quote(proto))
	}
	code, _, _ := strings.Cut(strings.TrimLeft(status, " "), " ")
	if len(code) != 3 || code[0] < '1' || code[0] > '9' || !digit(code[1]) || !digit(code[2]) {
		return fmt.Errorf("malformed HTTP status code %s", quote(code))
	}
	*r = backendResponse{
		StatusCode:    int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0'),
		Header:        make(http.Header, strings.Count(fields, "\n")),
		ContentLength: -1,
		Body:          http.NoBody,
	}
	if err := parseFields(fields, r.Header); err != nil {
		return err
	}
	return r.frame(br, method, major, minor)
}

// frame works out the body's length and reader from the head, as
// net/http's readTransfer does for a response.
func (r *backendResponse) frame(br *bufio.Reader, method string, major, minor int) error {
	h := r.Header
	conn := h["Connection"]
	hasClose := httpguts.HeaderValuesContainsToken(conn, "close")
	switch {
	case major < 1:
		r.Close = true
	case major == 1 && minor == 0:
		r.Close = hasClose || !httpguts.HeaderValuesContainsToken(conn, "keep-alive")
	default:
		r.Close = hasClose
	}

	chunked := false
	if te, ok := h["Transfer-Encoding"]; ok {
		delete(h, "Transfer-Encoding")
		if major > 1 || major == 1 && minor >= 1 { // ignored in HTTP/1.0
			if len(te) != 1 || !strings.EqualFold(te[0], "chunked") {
				return fmt.Errorf("unsupported transfer encoding %s", quote(strings.Join(te, ", ")))
			}
			chunked = true
		}
	}

	cls := h["Content-Length"]
	var n int64 = -1
	if len(cls) > 0 {
		first := strings.TrimSpace(cls[0])
		for _, v := range cls[1:] {
			if strings.TrimSpace(v) != first {
				return fmt.Errorf("multiple differing Content-Length fields %s", quote(strings.Join(cls, ", ")))
			}
		}
		if len(cls) > 1 {
			h["Content-Length"] = cls[:1:1]
			cls[0] = first
		}
		v, err := strconv.ParseUint(first, 10, 63)
		if err != nil {
			return fmt.Errorf("bad Content-Length %s", quote(first))
		}
		n = int64(v)
	}

	bodyAllowed := !(r.StatusCode < 200 || r.StatusCode == http.StatusNoContent || r.StatusCode == http.StatusNotModified)
	if method == http.MethodHead || !bodyAllowed {
		if method == http.MethodHead {
			r.ContentLength = n
		} else {
			r.ContentLength = 0
		}
		return r.announceTrailer(chunked)
	}
	if err := r.announceTrailer(chunked); err != nil {
		return err
	}
	switch {
	case chunked:
		if len(cls) > 0 {
			delete(h, "Content-Length")
		}
		r.cb = chunkBody{cr: httputil.NewChunkedReader(br), br: br, resp: r}
		r.Body = &r.cb
	case n > 0:
		r.ContentLength = n
		r.lb = lenBody{br: br, n: n}
		r.Body = &r.lb
	case n == 0:
		r.ContentLength = 0
	default: // the body ends when the connection does
		r.Close = true
		r.eb = eofBody{br: br}
		r.Body = &r.eb
	}
	return nil
}

// announceTrailer takes the fields a chunked body's Trailer announces into
// r.Trailer. Without a chunked body the field stays a plain header.
func (r *backendResponse) announceTrailer(chunked bool) error {
	vv, ok := r.Header["Trailer"]
	if !ok || !chunked {
		return nil
	}
	delete(r.Header, "Trailer")
	var t http.Header
	for _, v := range vv {
		for _, k := range strings.Split(v, ",") {
			if k = textTrim(k); k == "" {
				continue
			}
			k = http.CanonicalHeaderKey(k)
			switch k {
			case "Transfer-Encoding", "Trailer", "Content-Length":
				return fmt.Errorf("bad trailer key %s", quote(k))
			}
			if t == nil {
				t = make(http.Header)
			}
			t[k] = nil
		}
	}
	r.Trailer = t
	return nil
}

// readBlock returns the next block of lines from br up to and including
// the first empty one — a head (withStart: its first line, the status
// line, may not end it) or a trailer section — and consumes it. Lines end
// in "\n", optionally preceded by "\r". The block must fit br's buffer.
func readBlock(br *bufio.Reader, withStart bool) (string, error) {
	scan := 0 // where the first line not known to be complete starts
	first := withStart
	for {
		b, _ := br.Peek(br.Buffered())
		for {
			j := bytes.IndexByte(b[scan:], '\n')
			if j < 0 {
				break
			}
			empty := j == 0 || j == 1 && b[scan] == '\r'
			scan += j + 1
			if empty && !first {
				s := string(b[:scan])
				_, _ = br.Discard(scan)
				return s, nil
			}
			first = false
		}
		if len(b) >= br.Size() {
			return "", errHeadTooLarge
		}
		if _, err := br.Peek(len(b) + 1); err != nil {
			if errors.Is(err, io.EOF) && len(b) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
	}
}

// parseFields adds the header fields of s, lines up to an empty one, to h.
// Names are canonicalised; values are trimmed substrings of s.
func parseFields(s string, h http.Header) error {
	vals := make([]string, strings.Count(s, "\n"))
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			i = len(s) - 1 // not reached: blocks end in an empty line
		}
		line := trimCR(s[:i])
		s = s[i+1:]
		if line == "" {
			return nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			return fmt.Errorf("header field folded over lines (obs-fold) %s", quote(line))
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidHeaderFieldValue(v) {
			return fmt.Errorf("malformed header field %s", quote(line))
		}
		k, v = canonicalKey(k), textTrim(v)
		if vv, ok := h[k]; ok {
			h[k] = append(vv, v)
			continue
		}
		vals[0] = v
		h[k], vals = vals[:1:1], vals[1:]
	}
	return nil
}

// canonicalKey is http.CanonicalHeaderKey without an allocation for a name
// already in canonical form (k is a valid token).
func canonicalKey(k string) string {
	upper := true
	for i := 0; i < len(k); i++ {
		c := k[i]
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			return http.CanonicalHeaderKey(k)
		}
		upper = c == '-'
	}
	return k
}

// textTrim trims spaces and tabs at both ends, as net/textproto does.
func textTrim(s string) string {
	i, j := 0, len(s)
	for i < j && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	for j > i && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	return s[i:j]
}

func trimCR(line string) string {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		return line[:n-1]
	}
	return line
}

func digit(c byte) bool { return '0' <= c && c <= '9' }

// quote quotes at most 80 bytes of s for an error message.
func quote(s string) string {
	if len(s) > 80 {
		return strconv.Quote(s[:80]) + "…"
	}
	return strconv.Quote(s)
}

// lenBody reads a body of known length.
type lenBody struct {
	br *bufio.Reader
	n  int64 // left to read
}

func (b *lenBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.br.Read(p)
	b.n -= int64(n)
	if err == io.EOF && b.n > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// chunkBody reads a chunked body, then its trailer section into the
// response's Trailer.
type chunkBody struct {
	cr   io.Reader
	br   *bufio.Reader
	resp *backendResponse
	done bool
}

func (b *chunkBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.cr.Read(p)
	if err == io.EOF {
		if terr := b.readTrailer(); terr != nil {
			return n, terr
		}
		b.done = true
	}
	return n, err
}

// readTrailer reads the trailer section after the last chunk. As in
// net/http, the section ends in CRLF CRLF (an empty one in CRLF).
func (b *chunkBody) readTrailer() error {
	p, _ := b.br.Peek(2)
	if len(p) < 2 {
		return fmt.Errorf("reading the trailer: %w", io.ErrUnexpectedEOF)
	}
	if p[0] == '\r' && p[1] == '\n' {
		_, _ = b.br.Discard(2)
		return nil
	}
	s, err := readBlock(b.br, false)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("reading the trailer: %w", err)
	}
	if !strings.HasSuffix(s, "\r\n\r\n") {
		return fmt.Errorf("trailer section not ended by CRLF CRLF %s", quote(s))
	}
	t := make(http.Header)
	if err := parseFields(s, t); err != nil {
		return fmt.Errorf("reading the trailer: %w", err)
	}
	if b.resp.Trailer == nil {
		b.resp.Trailer = t
		return nil
	}
	for k, vv := range t {
		b.resp.Trailer[k] = vv
	}
	return nil
}

// eofBody reads a body that ends with the connection.
type eofBody struct{ br *bufio.Reader }

func (b *eofBody) Read(p []byte) (int, error) { return b.br.Read(p) }
