package ascii

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// plainRef is Plain byte by byte.
func plainRef(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// TestPlainEveryByteEveryPlace puts each of the 256 byte values at each
// place of strings of 1 to 24 bytes (a tail, one word and more, and the
// places across a word's edge), among bytes that are plain (including
// 0x80 and 0xff, which the word test must not mistake), and compares
// Plain with the byte-by-byte check.
func TestPlainEveryByteEveryPlace(t *testing.T) {
	everyByteEveryPlace([]byte{'a', ' ', 0x80, 0xff, 0x7e, 0x20, 0x21}, func(s string) {
		if got, want := Plain(s), plainRef(s); got != want {
			t.Fatalf("Plain(%q) = %v, want %v", s, got, want)
		}
	})
}

// everyByteEveryPlace calls check with strings of 1 to 24 bytes of each
// fill, one byte at each place in turn set to each of the 256 values.
func everyByteEveryPlace(fills []byte, check func(s string)) {
	for _, fill := range fills {
		for n := 1; n <= 24; n++ {
			b := []byte(strings.Repeat(string(fill), n))
			for at := 0; at < n; at++ {
				for c := range 256 {
					b[at] = byte(c)
					check(string(b))
				}
				b[at] = fill
			}
		}
	}
}

// TestPlainRandom compares Plain with the byte-by-byte check on random
// strings, most of them plain but for a few bytes.
func TestPlainRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	found := [2]int{}
	for range 200000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(0x20 + r.IntN(0xe0))
			if r.IntN(30) == 0 {
				b[i] = byte(r.IntN(256))
			}
		}
		s := string(b)
		want := plainRef(s)
		if Plain(s) != want {
			t.Fatalf("Plain(%q) = %v, want %v", s, !want, want)
		}
		if want {
			found[1]++
		} else {
			found[0]++
		}
	}
	if found[0] == 0 || found[1] == 0 {
		t.Fatalf("the random strings were not varied: %d not plain, %d plain", found[0], found[1])
	}
}

// lowerRef is IsLower byte by byte, and strings.ToLower's answer.
func lowerRef(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
}

// TestIsLowerEveryByteEveryPlace is TestPlainEveryByteEveryPlace for
// IsLower; a string IsLower passes is one strings.ToLower leaves as it is.
func TestIsLowerEveryByteEveryPlace(t *testing.T) {
	everyByteEveryPlace([]byte{'a', 'z', '.', '-', '0', 0x7f, 0x00, '@', '[', '`', '{'}, func(s string) {
		got, want := IsLower(s), lowerRef(s)
		if got != want {
			t.Fatalf("IsLower(%q) = %v, want %v", s, got, want)
		}
		if got && strings.ToLower(s) != s {
			t.Fatalf("IsLower(%q), but strings.ToLower changes it", s)
		}
	})
	if !IsLower("") || !Plain("") {
		t.Fatal("the empty string is lower-case and plain")
	}
}
