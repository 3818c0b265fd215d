package h1

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"

	"github.com/webrouter/webrouter/internal/testbed"
)

// requestSeeds are client requests, well-formed and not, for the
// comparison with net/http.
var requestSeeds = []string{
	"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n",
	"GET /x?y=1#f HTTP/1.1\nHost: a.test\nUser-Agent: t\n\n",
	"GET http://b.test/p HTTP/1.1\r\nHost: a.test\r\n\r\n",
	"GET * HTTP/1.1\r\nHost: a\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	"CONNECT b.test:443 HTTP/1.1\r\nHost: b.test:443\r\n\r\n",
	"CONNECT /p HTTP/1.1\r\nHost: b\r\n\r\n",
	"GET / HTTP/1.0\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: x, Close\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET / HTTP/1.1\r\nhost: a\r\nx-lower: 1\r\nX-Dup: 1\r\nx-dup: 2\r\n\r\n",
	"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
	"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
	"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
	"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello",
	"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nshort",
	"POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 9\r\n\r\n",
	"POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: Content-Length\r\n\r\n0\r\n\r\n",
	"POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	"POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
	"POST /u HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\nok",
	"POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Fold: a\r\n b\r\n\r\n",
	"GET / HTTP/1.1\r\n X-Lead: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nBad Name: v\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nName : v\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Ctl: a\x01b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-High: caf\xc3\xa9\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nNo-Colon\r\n\r\n",
	"G\xc3T / HTTP/1.1\r\nHost: a\r\n\r\n",
	" GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
	"GET /\r\n\r\n",
	"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
	"POST / HTTP/0.0\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\n",
	"GET x HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /a%20b HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
	"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
}

// TestParseRequestAgreesWithNetHTTP reads every seed with parseRequest and
// with http.ReadRequest and checks they agree (see compareRequest).
func TestParseRequestAgreesWithNetHTTP(t *testing.T) {
	for _, s := range requestSeeds {
		compareRequest(t, []byte(s))
	}
}

// FuzzParseRequest runs the same comparison on generated input:
// go test -run x -fuzz FuzzParseRequest ./internal/h1
func FuzzParseRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(compareRequest)
}

// compareRequest checks that parseRequest refuses exactly what
// http.ReadRequest followed by h1's field checks refuses, and that where
// both accept they agree on the request line, URL, Host, header, framing,
// body and trailers.
func compareRequest(t *testing.T, data []byte) {
	const size = 4096
	std, stdErr := http.ReadRequest(bufio.NewReaderSize(bytes.NewReader(data), size))
	if stdErr == nil && !validFields(std.Header) {
		stdErr = errInvalidField
	}
	var stdBody []byte
	var stdBodyErr error
	var stdAnnounced http.Header
	if stdErr == nil {
		stdAnnounced = std.Trailer.Clone()
		stdBody, stdBodyErr = io.ReadAll(std.Body)
	}

	c := &conn{br: bufio.NewReaderSize(bytes.NewReader(data), size), ctx: context.Background(), slot: new(slot)}
	got, err := c.parseRequest()
	if err != nil {
		if stdErr == nil && !tooLarge(data, size) && !testbed.Folded(data) {
			t.Fatalf("%q: parseRequest refused (%v); net/http read %s %s, header %v", data, err, std.Method, std.RequestURI, std.Header)
		}
		return
	}
	if stdErr != nil {
		t.Fatalf("%q: parseRequest accepted what net/http and h1 refuse (%v)", data, stdErr)
	}
	if got.Method != std.Method || got.RequestURI != std.RequestURI || got.URL.String() != std.URL.String() ||
		!reflect.DeepEqual(got.URL, std.URL) || got.Proto != std.Proto || got.ProtoMajor != std.ProtoMajor ||
		got.ProtoMinor != std.ProtoMinor || got.Host != std.Host || got.Close != std.Close ||
		got.ContentLength != std.ContentLength || !reflect.DeepEqual(got.TransferEncoding, std.TransferEncoding) {
		t.Fatalf("%q: got %s %q %#v %s %q close=%v length=%d te=%v; net/http %s %q %#v %s %q close=%v length=%d te=%v", data,
			got.Method, got.RequestURI, got.URL, got.Proto, got.Host, got.Close, got.ContentLength, got.TransferEncoding,
			std.Method, std.RequestURI, std.URL, std.Proto, std.Host, std.Close, std.ContentLength, std.TransferEncoding)
	}
	want := std.Header.Clone()
	if _, ok := got.Header["Cache-Control"]; !ok && want.Get("Pragma") == "no-cache" {
		delete(want, "Cache-Control") // net/http adds it
	}
	if !reflect.DeepEqual(got.Header, want) && !(len(got.Header) == 0 && len(want) == 0) {
		t.Fatalf("%q: header %v; net/http %v", data, got.Header, want)
	}
	if !reflect.DeepEqual(got.Trailer, stdAnnounced) {
		t.Fatalf("%q: trailer announced %v; net/http %v", data, got.Trailer, stdAnnounced)
	}
	if got.Context() != c.ctx {
		t.Fatalf("%q: the request does not carry the connection's context", data)
	}
	body, bodyErr := io.ReadAll(got.Body)
	if (bodyErr == nil) != (stdBodyErr == nil) {
		if bodyErr != nil && (strings.Contains(bodyErr.Error(), "obs-fold") || strings.Contains(bodyErr.Error(), "not ended by CRLF CRLF") ||
			!validFields(std.Trailer)) {
			return // a folded trailer field, bare LFs or a name with a space, refused on purpose
		}
		t.Fatalf("%q: body error %v; net/http %v", data, bodyErr, stdBodyErr)
	}
	if !bytes.Equal(body, stdBody) {
		t.Fatalf("%q: body %q; net/http %q", data, body, stdBody)
	}
	if bodyErr == nil && !reflect.DeepEqual(got.Trailer, std.Trailer) && !(len(got.Trailer) == 0 && len(std.Trailer) == 0) {
		t.Fatalf("%q: trailer %v; net/http %v", data, got.Trailer, std.Trailer)
	}
}

type fieldError struct{}

func (fieldError) Error() string { return "invalid header field" }

var errInvalidField = fieldError{}

// validFields is h1's check of what net/http reads.
func validFields(h http.Header) bool {
	for k, vv := range h {
		if !httpguts.ValidHeaderFieldName(k) {
			return false
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return false
			}
		}
	}
	return true
}

// tooLarge reports whether data's head does not fit a buffer of size
// (readHead then falls back to http.ReadRequest).
func tooLarge(data []byte, size int) bool {
	end := testbed.HeadEnd(data)
	return end < 0 || end+3 > size
}

// TestOriginForm: where originForm takes a target, it fills the URL
// exactly as url.ParseRequestURI does; it takes the common ones and leaves
// the rest (escapes, characters url would escape, control characters, a
// fragment, non-path forms) to url. Random targets over an alphabet of the
// interesting bytes check the first half widely.
func TestOriginForm(t *testing.T) {
	same := func(target string) bool {
		var got url.URL
		if !originForm(target, &got) {
			return false
		}
		want, err := url.ParseRequestURI(target)
		if err != nil {
			t.Errorf("originForm took %q, which url refuses: %v", target, err)
		} else if got != *want {
			t.Errorf("originForm(%q) = %#v, url has %#v", target, got, *want)
		}
		return true
	}
	for _, target := range []string{
		"/", "/bytes/1024", "/a/b.c-d_e~f", "/x?", "/x?a=1&b=2", "/x??", "/x?a?b", "/x?q=%20+é",
		"//double/slash", "/$&+,:;=@", "/a:b/c",
	} {
		if !same(target) {
			t.Errorf("originForm refused %q", target)
		}
	}
	for _, target := range []string{
		"", "*", "http://h/x", "h:80", "x/y", "/a%20b", "/a b", "/a!b", "/a'b", "/a(b)", "/a*b",
		"/é", "/a#f", "/a?b#f", "/a\x7f", "/a?\x01", "/[::1]",
	} {
		var u url.URL
		if originForm(target, &u) {
			t.Errorf("originForm took %q (%#v); url should parse it", target, u)
		}
	}
	const alphabet = "/?#%:@!$&'()*+,;=-._~aZ09 \x00\x7f\xc3\xa9[]"
	rng := rand.New(rand.NewPCG(1, 2))
	took := 0
	for range 20000 {
		b := []byte{'/'}
		for n := rng.IntN(12); n > 0; n-- {
			b = append(b, alphabet[rng.IntN(len(alphabet))])
		}
		if same(string(b)) {
			took++
		}
	}
	if took < 100 {
		t.Errorf("only %d random targets took the fast path: the check above checked little", took)
	}
}
