package head

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// TestName compares name with httpguts.ValidHeaderFieldName and
// http.CanonicalHeaderKey: every byte at each place of a few names, and
// names whose case is mixed at random; a name in canonical form costs no
// allocation.
func TestName(t *testing.T) {
	check := func(k string) {
		t.Helper()
		got, _, ok := name(k)
		if want := httpguts.ValidHeaderFieldName(k); ok != want {
			t.Fatalf("name(%q) ok = %v, want %v", k, ok, want)
		}
		if ok != ValidName(k) {
			t.Fatalf("ValidName(%q) = %v, want %v", k, !ok, ok)
		}
		if !ok {
			return
		}
		if want := http.CanonicalHeaderKey(k); got != want {
			t.Fatalf("name(%q) = %q, want %q", k, got, want)
		}
	}
	check("")
	for _, base := range []string{"Content-Type", "x", "X-Request-Id", "a-b-c", "Www-Authenticate", "-", "X--Y"} {
		b := []byte(base)
		for at := range b {
			for c := range 256 {
				old := b[at]
				b[at] = byte(c)
				check(string(b))
				b[at] = old
			}
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	letters := "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789_.!"
	for range 100000 {
		b := make([]byte, 1+r.IntN(20))
		for i := range b {
			b[i] = letters[r.IntN(len(letters))]
		}
		check(string(b))
	}
	for _, k := range []string{"Content-Type", "X-Request-Id", "Date", "X-Forwarded-For"} {
		if n := testing.AllocsPerRun(10, func() { name(k) }); n != 0 {
			t.Errorf("name(%q) allocated %v times", k, n)
		}
	}
}

// BenchmarkValidate checks the fields of a typical response head, as
// RequestFields does, with httpguts and with this file's checks.
func BenchmarkValidate(b *testing.B) {
	fields := [][2]string{
		{"Content-Type", "application/octet-stream"},
		{"Content-Length", "1024"},
		{"Date", "Mon, 07 Dec 2026 15:45:08 GMT"},
		{"Cache-Control", "private, max-age=0, must-revalidate"},
	}
	b.Run("httpguts", func(b *testing.B) {
		for b.Loop() {
			for _, f := range fields {
				if !httpguts.ValidHeaderFieldName(f[0]) || !httpguts.ValidHeaderFieldValue(f[1]) {
					b.Fatal("invalid")
				}
				_ = http.CanonicalHeaderKey(f[0])
			}
		}
	})
	b.Run("head", func(b *testing.B) {
		for b.Loop() {
			for _, f := range fields {
				if _, _, ok := name(f[0]); !ok || !validValue(f[1]) {
					b.Fatal("invalid")
				}
			}
		}
	})
}

// BenchmarkName finds the canonical form of common names, and of others.
func BenchmarkName(b *testing.B) {
	for _, names := range [][]string{
		{"Host", "Content-Type", "Content-Length", "Date"},
		{"X-Custom-Field", "Strict-Transport-Security", "Alt-Svc", "Sec-Fetch-Mode"},
	} {
		b.Run(names[0], func(b *testing.B) {
			for b.Loop() {
				for _, k := range names {
					if _, _, ok := name(k); !ok {
						b.Fatal("invalid")
					}
				}
			}
		})
	}
}

// TestCommonNames: the names common takes without a look at their bytes
// are valid and in canonical form, each found at its own index; every
// name with a Seen bit is among them (RequestFields gives the bits of
// common names only); names close to them (another case, a byte off) are
// not, and are still looked at.
func TestCommonNames(t *testing.T) {
	if len(commonNames) > 64 {
		t.Fatalf("%d common names: RequestFields has a bit for 64", len(commonNames))
	}
	for _, n := range []struct {
		i    int
		want string
	}{{commonHost, "Host"}, {commonDate, "Date"}, {commonContentType, "Content-Type"}, {commonContentLength, "Content-Length"}} {
		if commonNames[n.i] != n.want {
			t.Fatalf("commonNames[%d] is %q, want %q", n.i, commonNames[n.i], n.want)
		}
	}
	for i, k := range commonNames {
		if got := common(k); got != i {
			t.Errorf("common(%q) = %d, want %d", k, got, i)
		}
		if !httpguts.ValidHeaderFieldName(k) || http.CanonicalHeaderKey(k) != k {
			t.Errorf("common name %q is not a canonical token", k)
		}
		if commonSeen[i] != seenBit(k) {
			t.Errorf("commonSeen[%q] = %v, want %v", k, commonSeen[i], seenBit(k))
		}
		for _, near := range []string{strings.ToLower(k), strings.ToUpper(k), k + " ", k[:len(k)-1] + "\x00", k + "x"} {
			if c := common(near); c >= 0 && commonNames[c] != near {
				t.Errorf("common(%q) = %d, the index of %q", near, c, commonNames[c])
			}
			got, c, ok := name(near)
			if want := httpguts.ValidHeaderFieldName(near); ok != want || ok && got != http.CanonicalHeaderKey(near) {
				t.Errorf("name(%q) = %q, %v", near, got, ok)
			}
			if ok && c != common(got) {
				t.Errorf("name(%q) gives index %d, want %d", near, c, common(got))
			}
		}
	}
	for _, k := range []string{"Connection", "Content-Length", "Transfer-Encoding", "Trailer", "Proxy-Connection",
		"Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Upgrade", "Expect", "X-Request-Id", "X-Forwarded-For"} {
		if seenBit(k) == 0 || common(k) < 0 {
			t.Errorf("%q: seenBit %v, common %d", k, seenBit(k), common(k))
		}
	}
}

// TestValidValue compares validValue with httpguts.ValidHeaderFieldValue:
// each byte at each place of values of 1 to 20 bytes.
func TestValidValue(t *testing.T) {
	for _, fill := range []byte{'a', ' ', '\t', 0x80} {
		for n := 1; n <= 20; n++ {
			b := []byte(strings.Repeat(string(fill), n))
			for at := 0; at < n; at++ {
				for c := range 256 {
					b[at] = byte(c)
					if got, want := validValue(string(b)), httpguts.ValidHeaderFieldValue(string(b)); got != want {
						t.Fatalf("validValue(%q) = %v, want %v", b, got, want)
					}
				}
				b[at] = fill
			}
		}
	}
}
