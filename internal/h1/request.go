package h1

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/webrouter/webrouter/internal/head"
)

// parseRequest reads a request head that fits the connection's read buffer
// (package head) and builds its request as http.ReadRequest would: the
// same request line, URL, Host, Close and body framing (Content-Length,
// chunked with trailers), and the same refusals, plus those RFC 9112 asks
// of a server that net/http leaves to h1's later checks (a field name with
// a space, a folded field: 400 either way). Unlike http.ReadRequest it
// does not add Cache-Control for a Pragma: no-cache, so that the client's
// fields pass on as they came.
//
// A head larger than the buffer is head.ErrTooLarge with nothing consumed:
// the caller reads it with http.ReadRequest instead. One larger than the
// server's limit (headLimit) is errHeadTooLarge, even when it came whole
// into the buffer, read ahead with what came before.
func (c *conn) parseRequest() (*http.Request, error) {
	s, err := head.ReadBlockWait(c.br, true, c.headWait)
	if err != nil {
		return nil, err
	}
	if c.s != nil && int64(len(s)) > c.s.headLimit() {
		return nil, errHeadTooLarge
	}
	line, fields := head.FirstLine(s)
	method, rest, ok1 := head.Cut(line, ' ')
	target, proto, ok2 := head.Cut(rest, ' ')
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("malformed HTTP request %s", head.Quote(line))
	}
	if !httpguts.ValidHeaderFieldName(method) { // a method is a token, as a field name is
		return nil, fmt.Errorf("invalid method %s", head.Quote(method))
	}
	major, minor, ok := http.ParseHTTPVersion(proto)
	if !ok {
		return nil, fmt.Errorf("malformed HTTP version %s", head.Quote(proto))
	}
	// CONNECT's target is an authority (host:port), which ParseRequestURI
	// does not take alone.
	justAuthority := method == http.MethodConnect && !strings.HasPrefix(target, "/")
	u := &c.slot.url
	if justAuthority || !originForm(target, u) {
		rawurl := target
		if justAuthority {
			rawurl = "http://" + rawurl
		}
		if u, err = url.ParseRequestURI(rawurl); err != nil {
			return nil, err
		}
		if justAuthority {
			u.Scheme = ""
		}
	}
	h := c.slot.reqH // cleared (recycle)
	c.slot.reqH = nil
	if h == nil {
		h = make(http.Header, strings.Count(fields, "\n"))
	}
	hosts := c.slot.host[:0]
	var seen head.Seen
	if c.slot.vals, seen, err = head.RequestFields(fields, h, &hosts, c.slot.vals); err != nil {
		return nil, err
	}
	c.slot.seen = seen
	if len(hosts) > 1 {
		return nil, errors.New("too many Host headers")
	}

	req := &c.slot.req
	// The connection's context: unexported, so set through WithContext,
	// whose copy is inlined and does not escape (no allocation).
	*req = *(&http.Request{}).WithContext(c.ctx)
	req.Method, req.URL, req.RequestURI, req.Header = method, u, target, h
	req.Proto, req.ProtoMajor, req.ProtoMinor = proto, major, minor
	req.Host = u.Host // the Host field is not in h: it is req.Host, as net/http has it
	if req.Host == "" && len(hosts) > 0 {
		req.Host = hosts[0]
	}
	f, err := head.ReadFrame(h, seen, major, minor)
	if err != nil {
		return nil, err
	}
	req.Close, req.Trailer = f.Close, f.Trailer
	switch {
	case f.Chunked:
		delete(h, "Content-Length")
		req.ContentLength, req.TransferEncoding = -1, []string{"chunked"}
		b := &head.Body{}
		b.Chunks(c.br, &req.Trailer)
		req.Body = readCloser{b}
	case f.Length > 0:
		req.ContentLength = f.Length
		b := &head.Body{}
		b.Length(c.br, f.Length)
		req.Body = readCloser{b}
	default:
		req.ContentLength, req.Body = 0, http.NoBody
	}
	if major == 2 && minor == 0 && method == "PRI" && target == "*" {
		// HTTP/2's connection preface, as net/http marks it; h1 refuses it.
		req.ContentLength, req.Close = -1, true
	}
	return req, nil
}

// readCloser is a head.Body as a request body; closing it is the
// connection's business (see body).
type readCloser struct{ *head.Body }

func (readCloser) Close() error { return nil }

// headWait gives a head still arriving the header deadline
// (ReadHeaderTimeout): parseRequest's read calls it before it waits for
// more of the head, or leaves a head too large for the buffer to
// http.ReadRequest. A head already buffered whole is read without a clock
// reading or a deadline.
func (c *conn) headWait() {
	if c.s != nil && c.s.ReadHeaderTimeout > 0 {
		c.rd.Renew(time.Now(), c.s.ReadHeaderTimeout)
	}
}

// readHead reads the next request head: parseRequest, or http.ReadRequest
// for a head larger than the read buffer.
func (c *conn) readHead() (*http.Request, error) {
	req, err := c.parseRequest()
	if !errors.Is(err, head.ErrTooLarge) {
		return req, err
	}
	if req, err = http.ReadRequest(c.br); err != nil {
		return nil, err
	}
	// h1's own checks on what net/http reads (parseRequest makes them as
	// it reads).
	for k, vv := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return nil, errors.New("invalid header name")
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, errors.New("invalid header value")
			}
		}
	}
	return req.WithContext(c.ctx), nil
}

// originForm fills u as url.ParseRequestURI(target) would, without its
// allocation, for the common request target: an absolute path of
// characters that URLs keep as they are (no escapes, so Path is the
// target's path and RawPath empty), maybe with a query free of control
// characters and '#'. It reports false, leaving u alone, for any other
// target: url parses those.
func originForm(target string, u *url.URL) bool {
	if target == "" || target[0] != '/' {
		return false
	}
	path, query, hasQuery := head.Cut(target, '?')
	for i := 0; i < len(path); i++ {
		if !pathKept[path[i]] {
			return false
		}
	}
	for i := 0; i < len(query); i++ {
		if c := query[i]; c < 0x20 || c == 0x7f || c == '#' {
			return false
		}
	}
	// url sets ForceQuery for a target ending in its only '?'.
	*u = url.URL{Path: path, RawQuery: query, ForceQuery: hasQuery && query == ""}
	return true
}

// pathKept holds the bytes url neither unescapes nor escapes in a path:
// letters, digits, "-._~" and "$&+,/:;=@".
var pathKept = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-._~$&+,/:;=@" {
		t[c] = true
	}
	return t
}()
