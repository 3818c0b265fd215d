package proxy

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"

	"github.com/webrouter/webrouter/internal/head"
)

// replaced reports whether a client header is dropped because the router
// sets its own (or, for Expect, handles it itself).
func replaced(k string) bool {
	switch k {
	case "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Prefix", "Forwarded",
		"X-Real-Ip", "X-Request-Id", "Expect", "Content-Length", "Host":
		return true
	}
	return false
}

// connectionTokens returns the header names listed in Connection, in
// canonical form; they are hop-by-hop too. Without a Connection field (the
// common case) it is a map lookup, inlined into its caller: the parsing,
// a call of its own, then takes no room on the request's stack.
func connectionTokens(h http.Header) []string {
	if vs := h["Connection"]; vs != nil {
		return listedTokens(vs)
	}
	return nil
}

// listedTokens is connectionTokens' parsing of the Connection values vs.
//
//go:noinline
func listedTokens(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, tok := range strings.Split(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" && !strings.EqualFold(tok, "close") && !strings.EqualFold(tok, "keep-alive") {
				out = append(out, http.CanonicalHeaderKey(tok))
			}
		}
	}
	return out
}

func listed(k string, tokens []string) bool {
	for _, t := range tokens {
		if t == k {
			return true
		}
	}
	return false
}

// requestTarget is the origin-form target sent to the backend: the
// client's own bytes when the path is unchanged, else the stripped path
// with the query passed byte for byte.
func requestTarget(x *exchange, r *http.Request) string {
	if !(x.route.Path != "" && x.svc.StripPrefix) && strings.HasPrefix(r.RequestURI, "/") {
		return r.RequestURI
	}
	u := *r.URL
	u.Scheme, u.Host, u.User = "", "", nil
	if x.route.Path != "" && x.svc.StripPrefix {
		u.Path, u.RawPath = stripPath(x.route.Path, r.URL)
	}
	target := u.EscapedPath()
	if target == "" {
		target = "/"
	}
	if u.RawQuery != "" || u.ForceQuery {
		target += "?" + u.RawQuery
	}
	return target
}

// appendHead appends the request line and headers of the backend request
// to b: the client's headers less hop-by-hop and replaced ones, the
// forwarding headers, and the body's framing.
func appendHead(b []byte, x *exchange, r *http.Request, target string) []byte {
	b = append(b, r.Method...)
	b = append(b, ' ')
	b = append(b, target...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, r.Host...)
	b = append(b, "\r\n"...)
	var tokens []string
	if vs := x.values(r, head.SeenConnection, "Connection"); vs != nil {
		tokens = listedTokens(vs)
	}
	for k, vv := range r.Header {
		if head.Hop(k) || replaced(k) || listed(k, tokens) {
			continue
		}
		for _, v := range vv {
			b = appendField(b, k, v)
		}
	}
	if te := x.values(r, head.SeenHop, "Te"); te != nil && wantsTrailers(te) {
		b = appendField(b, "Te", "trailers")
	}
	for i := range forwarded {
		if k, v := x.forwardHeader(r, i); v != "" {
			b = appendField(b, k, v)
		}
	}
	switch {
	case r.ContentLength > 0:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, r.ContentLength, 10)
		b = append(b, "\r\n"...)
	case r.ContentLength < 0:
		b = appendField(b, "Transfer-Encoding", "chunked")
	}
	return append(b, "\r\n"...)
}

// wantsTrailers reports whether the client's TE values ask for trailers.
// Rare work kept out of appendHead's stack frame (see forwardHeader).
//
//go:noinline
func wantsTrailers(te []string) bool {
	return strings.Contains(strings.ToLower(strings.Join(te, ",")), "trailers")
}

func appendField(b []byte, k, v string) []byte {
	b = append(b, k...)
	b = append(b, ": "...)
	b = append(b, v...)
	return append(b, "\r\n"...)
}

// writeBody streams the client's body to the backend in the framing
// writeHead announced.
func writeBody(bw *bufio.Writer, body io.Reader, length int64, buf []byte) error {
	switch {
	case length > 0:
		_, err := io.CopyBuffer(bw, io.LimitReader(body, length), buf)
		return err
	case length < 0:
		cw := httputil.NewChunkedWriter(bw)
		if _, err := io.CopyBuffer(cw, body, buf); err != nil {
			return err
		}
		if err := cw.Close(); err != nil {
			return err
		}
		_, err := bw.WriteString("\r\n") // no trailers
		return err
	}
	return nil
}

// responseHead returns w's header map with the backend's response headers
// (resp.Header) in it, less hop-by-hop ones. Mostly that map is w's
// already (read into directly, see send), and only hop-by-hop fields are
// dropped, if the parse met any. Otherwise resp.Header is the map lent for
// this answer (pool.headerInto), emptied when it goes back: its values
// are copied, never the map.
func responseHead(w http.ResponseWriter, resp *backendResponse) http.Header {
	src := resp.Header
	if !resp.lent {
		if resp.seen&head.SeenHopByHop != 0 {
			dropHop(src)
		}
		return src
	}
	tokens := connectionTokens(src)
	h := w.Header()
	for k, vv := range src {
		if !head.Hop(k) && !listed(k, tokens) {
			h[k] = vv
		}
	}
	return h
}

// dropHop removes the hop-by-hop fields from h, those its Connection
// fields list included. A call of its own: most answers have none.
//
//go:noinline
func dropHop(h http.Header) {
	tokens := connectionTokens(h)
	for k := range h {
		if head.Hop(k) || listed(k, tokens) {
			delete(h, k)
		}
	}
}
