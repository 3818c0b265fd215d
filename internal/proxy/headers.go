package proxy

import (
	"crypto/rand"
	"encoding/binary"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/webrouter/webrouter/internal/head"
	"github.com/webrouter/webrouter/internal/route"
)

// idGen makes request ids: 16 hex digits, unique within a process (a
// bijective mix of a counter) and unpredictable across processes (a random
// seed).
type idGen struct {
	seed uint64
	n    atomic.Uint64
}

func newIDGen() *idGen {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &idGen{seed: binary.LittleEndian.Uint64(b[:])}
}

// next writes the next id into b.
func (g *idGen) next(b *[16]byte) {
	hex16(b, mix64(g.seed+g.n.Add(1)))
}

// hex16 writes v into b as 16 lower-case hex digits, eight at a time.
func hex16(b *[16]byte, v uint64) {
	binary.BigEndian.PutUint64(b[:8], hexWord(uint32(v>>32)))
	binary.BigEndian.PutUint64(b[8:], hexWord(uint32(v)))
}

// hexWord returns x's eight hex digits (lower case), the first in the top
// byte: x's nibbles spread to a byte each, then each turned to its digit
// at once ('0' added, and 'a'-'0'-10 more where the nibble is over 9; no
// byte carries into the next).
func hexWord(x uint32) uint64 {
	y := uint64(x)
	y = (y | y<<16) & 0x0000ffff0000ffff
	y = (y | y<<8) & 0x00ff00ff00ff00ff
	y = (y | y<<4) & 0x0f0f0f0f0f0f0f0f
	over9 := (y + 0x0606060606060606) >> 4 & 0x0101010101010101
	return y + 0x3030303030303030 + over9*('a'-'0'-10)
}

// mix64 is splitmix64's finaliser: a bijection on uint64.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// validRequestID reports whether a client-sent X-Request-Id may be kept:
// 1–128 characters from [A-Za-z0-9._:+/=-].
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._:+/=-", c) >= 0) {
			return false
		}
	}
	return true
}

// clientIP returns the host part of a RemoteAddr.
func clientIP(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

// stripPath removes a route's path prefix from u, returning the new Path and
// RawPath. RawPath keeps the client's escaping when the prefix cuts it at
// the same segment; otherwise it is dropped and Go re-escapes Path.
func stripPath(prefix string, u *url.URL) (path, raw string) {
	path = route.StripPrefix(prefix, u.Path)
	if u.RawPath == "" {
		return path, ""
	}
	segs := strings.Count(prefix, "/")
	esc, seen := u.RawPath, 0
	cut := len(esc)
	for i := 0; i < len(esc); i++ {
		if esc[i] == '/' {
			if seen == segs {
				cut = i
				break
			}
			seen++
		}
	}
	rest := esc[cut:]
	if rest == "" {
		rest = "/"
	}
	if dec, err := url.PathUnescape(rest); err != nil || dec != path {
		return path, ""
	}
	return path, rest
}

// forwarded is how many headers every backend request carries, replacing
// any the client sent (forwardHeader).
const forwarded = 6

// forwardHeader returns the i-th (0 ≤ i < forwarded) of the headers every
// backend request carries: who the client is and what it asked for. An
// empty value means the header is not sent. One at a time, they take no
// room on the stack (the request's goroutine's stack is cold memory on a
// router with many connections: package h1's workers).
func (x *exchange) forwardHeader(in *http.Request, i int) (key, value string) {
	switch i {
	case 0:
		xff := x.clientIP
		if prior := x.values(in, head.SeenForwardedFor, "X-Forwarded-For"); len(prior) > 0 {
			xff = strings.Join(prior, ", ") + ", " + xff
		}
		return "X-Forwarded-For", xff
	case 1:
		return "X-Forwarded-Host", in.Host
	case 2:
		if in.TLS != nil {
			return "X-Forwarded-Proto", "https"
		}
		return "X-Forwarded-Proto", "http"
	case 3:
		return "X-Real-Ip", x.clientIP
	case 4:
		return "X-Request-Id", x.id()
	}
	if x.route.Path != "" && x.svc.StripPrefix {
		return "X-Forwarded-Prefix", x.route.Path
	}
	return "X-Forwarded-Prefix", ""
}
