package head

import (
	"net/http"

	"github.com/webrouter/webrouter/internal/ascii"

	"golang.org/x/net/http/httpguts"
)

// The checks a field's name and value pass, made in fewer instructions than
// httpguts' byte-by-byte loops (every field of every head, in and out, is
// checked): a name is checked and its canonical form found in one pass
// (name), a value eight bytes at a time (ascii.Plain).

// Classes of a name's bytes (nameClass).
const (
	classToken = 1 << iota // a token character (httpguts.IsTokenRune)
	classLower             // 'a' to 'z'
	classUpper             // 'A' to 'Z'
)

// nameClass is the class of each byte. It is read only.
var nameClass = func() (t [256]uint8) {
	for c := range 256 {
		if httpguts.IsTokenRune(rune(c)) {
			t[c] |= classToken
		}
		switch {
		case 'a' <= c && c <= 'z':
			t[c] |= classLower
		case 'A' <= c && c <= 'Z':
			t[c] |= classUpper
		}
	}
	return t
}()

// name reports whether k is a valid field name (a token, as
// httpguts.ValidHeaderFieldName has it) and returns its canonical form
// (http.CanonicalHeaderKey's), which is k itself, without an allocation,
// when k is in canonical form already, and that form's index in
// commonNames (-1: not common).
func name(k string) (string, int, bool) {
	if i := common(k); i >= 0 {
		return k, i, true
	}
	if k == "" {
		return "", -1, false
	}
	// want is the class that breaks canonical form at the next byte: a
	// lower-case letter at the start of a word, an upper-case one within.
	want, bad := uint8(classLower), uint8(0)
	for i := 0; i < len(k); i++ {
		c := k[i]
		t := nameClass[c]
		if t&classToken == 0 {
			return "", -1, false
		}
		bad |= t & want
		want = classUpper
		if c == '-' {
			want = classLower
		}
	}
	if bad != 0 {
		k = http.CanonicalHeaderKey(k)
		return k, common(k), true
	}
	return k, -1, true
}

// commonNames are the commonest field names, each in canonical form, and
// every name with a Seen bit; a name's place here is its index (common).
// There are at most 64 (RequestFields keeps a bit for each).
var commonNames = [...]string{
	"Host",
	"Date",
	"Content-Type",
	"Content-Length",
	"Connection",
	"User-Agent",
	"Accept",
	"Accept-Encoding",
	"Accept-Language",
	"Cookie",
	"Set-Cookie",
	"Cache-Control",
	"Server",
	"Etag",
	"Last-Modified",
	"Location",
	"Vary",
	"Authorization",
	"Referer",
	"Origin",
	"Transfer-Encoding",
	"Expires",
	"If-None-Match",
	"If-Modified-Since",
	"Keep-Alive",
	"Upgrade",
	"X-Request-Id",
	"X-Forwarded-For",
	"X-Forwarded-Proto",
	"X-Forwarded-Host",
	"X-Real-Ip",
	"Trailer",
	"Te",
	"Expect",
	"Proxy-Connection",
	"Proxy-Authenticate",
	"Proxy-Authorization",
	"Content-Encoding",
	"Accept-Ranges",
	"Age",
	"Pragma",
	"Range",
	"Forwarded",
	"Via",
}

// The indexes in commonNames of the names a parse treats apart.
const (
	commonHost          = 0
	commonDate          = 1
	commonContentType   = 2
	commonContentLength = 3
)

// common returns k's index in commonNames, or -1 when k is not one of
// them. A switch finds it in a few comparisons (the compiler searches by
// length, then content), where a name not common is looked at byte by
// byte (name) and a map would hash it.
func common(k string) int {
	switch k {
	case "Host":
		return 0
	case "Date":
		return 1
	case "Content-Type":
		return 2
	case "Content-Length":
		return 3
	case "Connection":
		return 4
	case "User-Agent":
		return 5
	case "Accept":
		return 6
	case "Accept-Encoding":
		return 7
	case "Accept-Language":
		return 8
	case "Cookie":
		return 9
	case "Set-Cookie":
		return 10
	case "Cache-Control":
		return 11
	case "Server":
		return 12
	case "Etag":
		return 13
	case "Last-Modified":
		return 14
	case "Location":
		return 15
	case "Vary":
		return 16
	case "Authorization":
		return 17
	case "Referer":
		return 18
	case "Origin":
		return 19
	case "Transfer-Encoding":
		return 20
	case "Expires":
		return 21
	case "If-None-Match":
		return 22
	case "If-Modified-Since":
		return 23
	case "Keep-Alive":
		return 24
	case "Upgrade":
		return 25
	case "X-Request-Id":
		return 26
	case "X-Forwarded-For":
		return 27
	case "X-Forwarded-Proto":
		return 28
	case "X-Forwarded-Host":
		return 29
	case "X-Real-Ip":
		return 30
	case "Trailer":
		return 31
	case "Te":
		return 32
	case "Expect":
		return 33
	case "Proxy-Connection":
		return 34
	case "Proxy-Authenticate":
		return 35
	case "Proxy-Authorization":
		return 36
	case "Content-Encoding":
		return 37
	case "Accept-Ranges":
		return 38
	case "Age":
		return 39
	case "Pragma":
		return 40
	case "Range":
		return 41
	case "Forwarded":
		return 42
	case "Via":
		return 43
	}
	return -1
}

// commonSeen is the Seen bit of each of commonNames (seenBit). It is read
// only.
var commonSeen = func() (t [len(commonNames)]Seen) {
	for i, k := range commonNames {
		t[i] = seenBit(k)
	}
	return t
}()

// ValidName reports whether k is a valid field name, as
// httpguts.ValidHeaderFieldName does.
func ValidName(k string) bool {
	if common(k) >= 0 {
		return true
	}
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if nameClass[k[i]]&classToken == 0 {
			return false
		}
	}
	return true
}

// validValue reports whether v is a valid field value, as
// httpguts.ValidHeaderFieldValue does: no control byte but HTAB.
func validValue(v string) bool {
	return ascii.Plain(v) || httpguts.ValidHeaderFieldValue(v)
}
