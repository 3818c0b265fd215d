package head

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// Frame is what a message's head says of its connection and the framing
// of its body, as net/http reads it (RFC 9112 6, 9.6).
type Frame struct {
	Close   bool        // by version and Connection: the connection ends after this message
	Chunked bool        // the body is in chunked coding
	Length  int64       // Content-Length; -1: none
	Trailer http.Header // the trailer names a chunked message announces (nil values); nil: none
}

// ReadFrame reads the frame of a message of version major.minor from its
// header h, in which seen are the framing fields there may be (those
// RequestFields met, or SeenAll): the others are not looked up. It removes
// Transfer-Encoding from h, and Trailer for a chunked message, and folds
// repeated Content-Length fields into one. A Transfer-Encoding other than
// "chunked" (HTTP/1.1; HTTP/1.0 ignores it), differing or malformed
// Content-Lengths and an announced framing field are errors.
func ReadFrame(h http.Header, seen Seen, major, minor int) (Frame, error) {
	return readFrame(h, seen, nil, major, minor)
}

// PassedFrame is ReadFrame for a head read by ResponseFields, whose
// Content-Length values are pass's, not h's.
func PassedFrame(h http.Header, seen Seen, pass *Passed, major, minor int) (Frame, error) {
	return readFrame(h, seen&^SeenContentLength, &pass.ContentLength, major, minor)
}

// readFrame is ReadFrame, with the Content-Length values *lengths instead
// of h's when lengths is not nil.
func readFrame(h http.Header, seen Seen, lengths *[]string, major, minor int) (Frame, error) {
	f := Frame{Length: -1}
	var conn []string
	if seen&SeenConnection != 0 {
		conn = h["Connection"]
	}
	hasClose := httpguts.HeaderValuesContainsToken(conn, "close")
	switch {
	case major < 1:
		f.Close = true
	case major == 1 && minor == 0:
		f.Close = hasClose || !httpguts.HeaderValuesContainsToken(conn, "keep-alive")
	default:
		f.Close = hasClose
	}
	// As net/http does, a message that says HTTP/0.0 is framed as HTTP/1.1
	// (its Close above still follows the version it gave).
	http11 := major > 1 || major == 1 && minor >= 1 || major == 0 && minor == 0
	var err error
	if seen&SeenTransferEncoding != 0 {
		if f.Chunked, err = chunked(h, http11); err != nil {
			return Frame{}, err
		}
	}
	if seen&SeenContentLength != 0 {
		if f.Length, err = contentLength(h); err != nil {
			return Frame{}, err
		}
	}
	if lengths != nil {
		if f.Length, err = Length(*lengths); err != nil {
			return Frame{}, err
		}
	}
	if seen&SeenTrailer != 0 {
		if f.Trailer, err = announcedTrailer(h, f.Chunked); err != nil {
			return Frame{}, err
		}
	}
	return f, nil
}

// contentLength returns the length a message's Content-Length fields give
// (-1: none). Repeated fields must agree (they are then folded into one in
// h); a value must be a non-negative decimal number.
func contentLength(h http.Header) (int64, error) {
	cls := h["Content-Length"]
	n, err := Length(cls)
	if err == nil && len(cls) > 1 {
		cls[0] = strings.TrimSpace(cls[0])
		h["Content-Length"] = cls[:1:1]
	}
	return n, err
}

// Length returns the length that the values of a message's Content-Length
// fields give (-1: none), as ReadFrame reads them: repeated fields must
// agree; a value must be a non-negative decimal number.
func Length(cls []string) (int64, error) {
	if len(cls) == 0 {
		return -1, nil
	}
	first := strings.TrimSpace(cls[0])
	for _, v := range cls[1:] {
		if strings.TrimSpace(v) != first {
			return 0, fmt.Errorf("multiple differing Content-Length fields %s", Quote(strings.Join(cls, ", ")))
		}
	}
	if n, ok := Decimal(first); ok {
		return n, nil
	}
	n, err := strconv.ParseUint(first, 10, 63)
	if err != nil {
		return 0, fmt.Errorf("bad Content-Length %s", Quote(first))
	}
	return int64(n), nil
}

// Decimal parses s if it is 1 to 18 decimal digits, the form nearly every
// Content-Length has, in a few instructions where strconv's general parse
// takes a hundred; ok false: s is something else, for strconv to judge.
func Decimal(s string) (n int64, ok bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return 0, false
		}
		n = n*10 + int64(d)
	}
	return n, true
}

// chunked removes Transfer-Encoding from h and reports whether the body is
// chunked. In HTTP/1.0 (http11 false) the field is ignored; in HTTP/1.1 it
// must be one field saying "chunked", as net/http and nginx require.
func chunked(h http.Header, http11 bool) (bool, error) {
	te, ok := h["Transfer-Encoding"]
	if !ok {
		return false, nil
	}
	delete(h, "Transfer-Encoding")
	if !http11 {
		return false, nil
	}
	if len(te) != 1 || !strings.EqualFold(te[0], "chunked") {
		return false, fmt.Errorf("unsupported transfer encoding %s", Quote(strings.Join(te, ", ")))
	}
	return true, nil
}

// announcedTrailer takes the names a chunked message's Trailer field
// announces out of h, as the keys (with nil values) of the header it
// returns (nil: none). Without a chunked body the field stays in h. The
// framing fields may not be announced.
func announcedTrailer(h http.Header, chunked bool) (http.Header, error) {
	vv, ok := h["Trailer"]
	if !ok || !chunked {
		return nil, nil
	}
	delete(h, "Trailer")
	var t http.Header
	for _, v := range vv {
		for _, k := range strings.Split(v, ",") {
			if k = Trim(k); k == "" {
				continue
			}
			k = http.CanonicalHeaderKey(k)
			switch k {
			case "Transfer-Encoding", "Trailer", "Content-Length":
				return nil, fmt.Errorf("bad trailer key %s", Quote(k))
			}
			if t == nil {
				t = make(http.Header)
			}
			t[k] = nil
		}
	}
	return t, nil
}

// Body reads a message body of known length or in chunked coding from a
// bufio.Reader, and returns io.EOF at its end (a body of known length with
// its last bytes); a chunked body's trailer
// fields are then set in the header Trailer points to. The zero Body is
// empty. A Body may be reset for the next message on the same reader.
type Body struct {
	br      *bufio.Reader
	n       int64     // left of a body of known length
	cr      io.Reader // the chunked coding's reader; nil: known length
	trailer *http.Header
	done    bool
}

// Length makes b read a body of n bytes from br. End of stream before the
// n-th byte is io.ErrUnexpectedEOF.
func (b *Body) Length(br *bufio.Reader, n int64) {
	*b = Body{br: br, n: n}
}

// Chunks makes b read a chunked body from br, its trailer fields going
// into *trailer (merged over the announced names, created if nil).
func (b *Body) Chunks(br *bufio.Reader, trailer *http.Header) {
	*b = Body{br: br, cr: httputil.NewChunkedReader(br), trailer: trailer}
}

// Held returns the rest of a body of known length when br holds all of it
// already, and consumes it: b then reads as ended. The bytes are br's own,
// valid until br is next read or reset, for a caller that passes them on
// without a copy. nil, with nothing consumed: a chunked body, one not all
// buffered yet, or none left.
func (b *Body) Held() []byte {
	if b.cr != nil || b.n <= 0 || int64(b.br.Buffered()) < b.n {
		return nil
	}
	p, _ := b.br.Peek(int(b.n))
	_, _ = b.br.Discard(int(b.n))
	b.n = 0
	return p
}

func (b *Body) Read(p []byte) (int, error) {
	if b.cr == nil {
		if b.n <= 0 {
			return 0, io.EOF
		}
		if int64(len(p)) > b.n {
			p = p[:b.n]
		}
		n, err := b.br.Read(p)
		b.n -= int64(n)
		switch {
		case err == io.EOF && b.n > 0:
			err = io.ErrUnexpectedEOF
		case err == nil && b.n == 0:
			err = io.EOF // with the last bytes, as net/http's bodies do: the reader knows it is done without another call
		}
		return n, err
	}
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
// net/http, the section ends in CRLF CRLF (an empty one in CRLF), and
// must fit the reader's buffer.
func (b *Body) readTrailer() error {
	p, _ := b.br.Peek(2)
	if len(p) < 2 {
		return fmt.Errorf("reading the trailer: %w", io.ErrUnexpectedEOF)
	}
	if p[0] == '\r' && p[1] == '\n' {
		_, _ = b.br.Discard(2)
		return nil
	}
	s, err := ReadBlock(b.br, false)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("reading the trailer: %w", err)
	}
	if !strings.HasSuffix(s, "\r\n\r\n") {
		return errors.New("trailer section not ended by CRLF CRLF")
	}
	t := make(http.Header)
	if err := ParseFields(s, t); err != nil {
		return fmt.Errorf("reading the trailer: %w", err)
	}
	if *b.trailer == nil {
		*b.trailer = t
		return nil
	}
	for k, vv := range t {
		(*b.trailer)[k] = vv
	}
	return nil
}
