package head

import (
	"net/http"

	"github.com/webrouter/webrouter/internal/ascii"

	"golang.org/x/net/http/httpguts"
)

// The checks a field's name and value pass, made in fewer instructions than
// httpguts' byte-by-byte loops (every field of every head, in and out, is
// checked): a name is checked and its canonical form found in one pass
// (Name), a value eight bytes at a time (ascii.Plain).

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

// Name reports whether k is a valid field name (a token, as
// httpguts.ValidHeaderFieldName has it) and returns its canonical form
// (http.CanonicalHeaderKey's), which is k itself, without an allocation,
// when k is in canonical form already.
func Name(k string) (string, bool) {
	if common(k) {
		return k, true
	}
	if k == "" {
		return "", false
	}
	// want is the class that breaks canonical form at the next byte: a
	// lower-case letter at the start of a word, an upper-case one within.
	want, bad := uint8(classLower), uint8(0)
	for i := 0; i < len(k); i++ {
		c := k[i]
		t := nameClass[c]
		if t&classToken == 0 {
			return "", false
		}
		bad |= t & want
		want = classUpper
		if c == '-' {
			want = classLower
		}
	}
	if bad != 0 {
		return http.CanonicalHeaderKey(k), true
	}
	return k, true
}

// common reports whether k is one of the commonest field names, each in
// canonical form: those are found in a few comparisons rather than looked
// at byte by byte.
func common(k string) bool {
	switch k {
	case "Host", "Date", "Content-Type", "Content-Length", "Connection", "User-Agent",
		"Accept", "Accept-Encoding", "Accept-Language", "Cookie", "Set-Cookie",
		"Cache-Control", "Server", "Etag", "Last-Modified", "Location", "Vary",
		"Authorization", "Referer", "Origin", "Transfer-Encoding", "Expires",
		"If-None-Match", "If-Modified-Since", "Keep-Alive", "Upgrade",
		"X-Request-Id", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-Ip":
		return true
	}
	return false
}

// ValidName reports whether k is a valid field name, as
// httpguts.ValidHeaderFieldName does.
func ValidName(k string) bool {
	if common(k) {
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

// ValidValue reports whether v is a valid field value, as
// httpguts.ValidHeaderFieldValue does: no control byte but HTAB.
func ValidValue(v string) bool {
	return ascii.Plain(v) || httpguts.ValidHeaderFieldValue(v)
}
