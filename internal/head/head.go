// Package head reads the heads of HTTP/1.x messages — a start line and
// header fields up to an empty line — from a bufio.Reader, as
// net/textproto does, with fewer allocations: a head is found whole in the
// reader's buffer and copied into one string, and the fields' names and
// values are substrings of it (a name not in canonical form is the
// exception).
//
// Contract: lines end in "\n", optionally preceded by "\r". A block must
// fit the reader's buffer (ErrTooLarge otherwise; nothing is consumed, so
// the caller may read it another way). Fields are validated as net/http
// validates them (names are tokens, values hold no control bytes but HTAB),
// and, stricter than net/textproto but as RFC 9112 allows, a field folded
// over lines (obs-fold) or a name with a space before its colon is an
// error. Errors name the field at fault but never quote a field's value,
// which may be a secret bound for a log.
package head

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// ErrTooLarge is a block that does not fit the reader's buffer.
var ErrTooLarge = errors.New("head too large")

// ReadBlock returns the next block of lines from br up to and including
// the first empty one, and consumes it. With withStart the block's first
// line (a start line) does not end it even when empty; without, an empty
// first line is the whole block. At end of stream it returns io.EOF if
// nothing was buffered, else io.ErrUnexpectedEOF; other read errors (a
// deadline) are returned as they are. On any error nothing is consumed.
func ReadBlock(br *bufio.Reader, withStart bool) (string, error) {
	return ReadBlockWait(br, withStart, nil)
}

// ReadBlockWait is ReadBlock that calls wait, if not nil, once: before it
// first reads from br's source, or before it returns ErrTooLarge (the
// caller then reads the block another way); never for a block that is
// buffered whole. A server gives a head still arriving its deadline there,
// and one that came whole costs it nothing.
func ReadBlockWait(br *bufio.Reader, withStart bool, wait func()) (string, error) {
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
		if wait != nil {
			wait()
			wait = nil
		}
		if len(b) >= br.Size() {
			return "", ErrTooLarge
		}
		if _, err := br.Peek(len(b) + 1); err != nil {
			if errors.Is(err, io.EOF) && len(b) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
	}
}

// Cut is strings.Cut for a separator of one byte, without the general
// search strings.Cut goes through: it splits a start line in a few
// instructions.
func Cut(s string, sep byte) (before, after string, found bool) {
	if i := strings.IndexByte(s, sep); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

// FirstLine splits s after its first line, returning the line without its
// line end.
func FirstLine(s string) (line, rest string) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return trimCR(s), ""
	}
	return trimCR(s[:i]), s[i+1:]
}

// ParseFields adds the header fields of s, lines up to an empty one, to h.
// Names are canonicalised (http.CanonicalHeaderKey); values are trimmed of
// spaces and tabs at both ends. The values of a name met more than once
// are kept in order.
func ParseFields(s string, h http.Header) error {
	_, _, err := RequestFields(s, h, nil, nil)
	return err
}

// Seen tells which of the fields that frame a message (see ReadFrame) a
// parse (RequestFields) put into a header, so that ReadFrame looks up only
// those: most heads carry one of the four at most, and a lookup in a
// header map is a good part of the work of reading a head. It also tells
// whether the header holds another hop-by-hop field (SeenHop), so that a
// proxy passing the header on knows without a look whether it has any to
// drop, and which of the fields a router consults on nearly every request
// it holds, so that those absent are not looked up.
type Seen uint8

// The bits of Seen: the framing fields first.
const (
	SeenConnection Seen = 1 << iota
	SeenContentLength
	SeenTransferEncoding
	SeenTrailer
	// SeenHop: a hop-by-hop field besides the framing ones (see Hop):
	// Upgrade and Te among them.
	SeenHop
	// The fields a router consults on nearly every request.
	SeenExpect
	SeenRequestID    // X-Request-Id
	SeenForwardedFor // X-Forwarded-For

	// SeenHopByHop are the bits of the hop-by-hop fields.
	SeenHopByHop = SeenConnection | SeenTransferEncoding | SeenTrailer | SeenHop

	// SeenAll is for a header not known to be fresh from a parse: every
	// field is looked up.
	SeenAll Seen = 1<<8 - 1
)

// seenBit is the Seen bit of a canonical field name (0: none of Seen's).
func seenBit(k string) Seen {
	switch k {
	case "Connection":
		return SeenConnection
	case "Content-Length":
		return SeenContentLength
	case "Transfer-Encoding":
		return SeenTransferEncoding
	case "Trailer":
		return SeenTrailer
	case "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Upgrade":
		return SeenHop
	case "Expect":
		return SeenExpect
	case "X-Request-Id":
		return SeenRequestID
	case "X-Forwarded-For":
		return SeenForwardedFor
	}
	return 0
}

// Hop reports whether a field, by its canonical name, is hop-by-hop (RFC
// 9110 7.6.1, plus the non-standard Proxy-Connection): it describes one
// connection and a proxy does not pass it on. The fields a Connection
// field lists are hop-by-hop too; Hop does not know of them.
func Hop(k string) bool {
	return seenBit(k)&SeenHopByHop != 0
}

// RequestFields is ParseFields for a request's head, as net/http keeps it:
// the Host field's values are appended to *host instead of going into h
// (a request's Host is a field of its own; a nil host keeps Host in h).
// The fields' values are kept in scratch's array, and those it has no room
// for in one allocated for the rest; the last array used is returned, for
// the caller to pass again once h and its values are no longer in use (the
// next request on the connection), with the framing fields met (for
// ReadFrame).
func RequestFields(s string, h http.Header, host *[]string, scratch []string) ([]string, Seen, error) {
	return fields(s, h, host, nil, scratch)
}

// Passed holds the fields of a head that a parse (ResponseFields) set
// aside to be passed on as they are, instead of putting them into a header
// map. It is meant to be kept and reused: Lines' array is.
type Passed struct {
	// Lines are the fields' lines, in the order met, each "Name: value"
	// and CRLF: the name in canonical form, the value trimmed of spaces
	// and tabs at both ends, both checked as a parse checks them (the
	// name a token, the value free of control bytes but HTAB).
	Lines []byte
	// Date: a Date field is among them.
	Date bool
	// ContentType is the first Content-Type value among them ("": none).
	ContentType string
	// ContentLength holds the values of the head's Content-Length fields,
	// which are neither among the lines nor in the header map: the
	// framing reads them (Length), and the length goes on as a number.
	ContentLength []string
	clv           [1]string // ContentLength's array for one field
}

// ResponseFields is RequestFields for the head of an answer a proxy passes
// on: the fields without a Seen bit — those neither the framing nor a
// router looks up, most of any answer's — are set aside in pass (emptied
// first) as the lines to write, and Content-Length's values as
// pass.ContentLength (its Seen bit reported), not put into h; the others
// go into h. pass.Lines' values are copies: they do not hold on to s;
// pass.ContentLength's do.
func ResponseFields(s string, h http.Header, pass *Passed, scratch []string) ([]string, Seen, error) {
	pass.Lines, pass.Date, pass.ContentType, pass.ContentLength = pass.Lines[:0], false, "", pass.clv[:0]
	return fields(s, h, nil, pass, scratch)
}

// fields is RequestFields, and ResponseFields with a pass.
func fields(s string, h http.Header, host *[]string, pass *Passed, scratch []string) ([]string, Seen, error) {
	vals := scratch[:cap(scratch)]
	var seen Seen
	// The common names (commonNames) this head has put into h so far:
	// one not among them is not in h yet, when h was empty to begin with,
	// and goes in without a lookup first (one map operation, not two).
	// All set: look up every name.
	var had uint64
	if len(h) > 0 {
		had = ^uint64(0)
	}
	for len(s) > 0 {
		line, rest := FirstLine(s)
		s = rest
		if line == "" {
			return scratch, seen, nil
		}
		// Errors name a field, never quote its value: it may be a secret
		// (a cookie, a token) on its way to a log.
		if line[0] == ' ' || line[0] == '\t' {
			return scratch, seen, errors.New("header field folded over lines (obs-fold)")
		}
		i := strings.IndexByte(line, ':')
		if i < 0 {
			return scratch, seen, fmt.Errorf("malformed header field: no colon in a line of %d bytes", len(line))
		}
		k, c, ok := name(line[:i])
		v := line[i+1:]
		switch {
		case !ok:
			return scratch, seen, fmt.Errorf("malformed header field name %s", Quote(line[:i]))
		case !validValue(v):
			return scratch, seen, fmt.Errorf("malformed header field: a control character in the value of %s", Quote(k))
		}
		v = Trim(v)
		if pass != nil && (c < 0 || commonSeen[c] == 0) {
			pass.add(k, v, c)
			continue
		}
		first := false
		if c >= 0 {
			// Only common names have a Seen bit (commonNames).
			seen |= commonSeen[c]
			switch {
			case host != nil && c == commonHost:
				*host = append(*host, v)
				continue
			case pass != nil && c == commonContentLength:
				pass.ContentLength = append(pass.ContentLength, v)
				continue
			}
			first = had&(1<<c) == 0
			had |= 1 << c
		}
		if !first {
			if vv, ok := h[k]; ok {
				h[k] = append(vv, v)
				continue
			}
		}
		if len(vals) == 0 {
			// More fields than scratch holds: an array for the rest, which
			// the caller gets to pass next time.
			scratch = make([]string, strings.Count(s, "\n")+1)
			vals = scratch
		}
		vals[0] = v
		h[k], vals = vals[:1:1], vals[1:]
	}
	return scratch, seen, nil
}

// add appends the field k (canonical; c its index in commonNames, or -1)
// with the value v to p's lines.
func (p *Passed) add(k, v string, c int) {
	switch c {
	case commonDate:
		p.Date = true
	case commonContentType:
		if p.ContentType == "" {
			p.ContentType = v
		}
	}
	b := append(p.Lines, k...)
	b = append(b, ": "...)
	b = append(b, v...)
	p.Lines = append(b, "\r\n"...)
}

// Get is h.Get(key) for a key already in canonical form (a constant such
// as "Content-Type"), without canonicalising it again on every call: the
// first value, or "". The fields of a parsed head (ParseFields, net/http)
// are stored under canonical names; a key not in canonical form finds
// nothing.
func Get(h http.Header, key string) string {
	if vv := h[key]; len(vv) > 0 {
		return vv[0]
	}
	return ""
}

// Trim trims spaces and tabs at both ends, as net/textproto does.
func Trim(s string) string {
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

// Quote quotes at most 80 bytes of s, for an error message.
func Quote(s string) string {
	if len(s) > 80 {
		return strconv.Quote(s[:80]) + "…"
	}
	return strconv.Quote(s)
}
