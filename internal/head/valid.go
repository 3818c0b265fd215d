package head

import (
	"net/http"

	"golang.org/x/net/http/httpguts"
)

// The checks a field's name and value pass, made in fewer instructions than
// httpguts' byte-by-byte loops (every field of every head, in and out, is
// checked): a name is checked and its canonical form found in one pass
// (Name), a value eight bytes at a time (Plain).

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

// Plain reports whether s holds no ASCII control byte (below 0x20, HTAB
// included) and no DEL (0x7f). A plain value is a valid field value and
// needs no cleaning before it is sent; one that is not plain may still be
// valid (ValidValue).
func Plain(s string) bool {
	n := len(s)
	if n < 8 {
		if n < 4 {
			for i := 0; i < n; i++ {
				if c := s[i]; c < 0x20 || c == 0x7f {
					return false
				}
			}
			return true
		}
		// Two words of four, which may overlap, as one of eight.
		return plainWord(uint64(word4(s[:4])) | uint64(word4(s[n-4:]))<<32)
	}
	for i := 0; i < n-8; i += 8 {
		if !plainWord(word8(s[i : i+8])) {
			return false
		}
	}
	return plainWord(word8(s[n-8:])) // the last eight, which may overlap
}

// plainWord reports whether none of x's eight bytes is below 0x20 or 0x7f.
// A byte below 0x20 borrows into its high bit when 0x20 is taken from it,
// and ^x keeps that bit unless the byte was 0x80 or more; a byte 0x7f is
// the same test, for a byte below 1, on x^0x7f….
func plainWord(x uint64) bool {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	d := x ^ 0x7f*ones
	return ((x-0x20*ones)&^x|(d-ones)&^d)&highs == 0
}

// word8 is w's eight bytes as one little-endian word (one load: the
// compiler joins them; w's length is checked once).
func word8(w string) uint64 {
	_ = w[7]
	return uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
}

// word4 is word8 for four bytes.
func word4(w string) uint32 {
	_ = w[3]
	return uint32(w[0]) | uint32(w[1])<<8 | uint32(w[2])<<16 | uint32(w[3])<<24
}

// ValidValue reports whether v is a valid field value, as
// httpguts.ValidHeaderFieldValue does: no control byte but HTAB.
func ValidValue(v string) bool {
	return Plain(v) || httpguts.ValidHeaderFieldValue(v)
}
