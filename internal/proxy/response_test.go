package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/head"
	"github.com/webrouter/webrouter/internal/testbed"
)

// responseSeeds are backend answers, well-formed and not, for the
// comparison with net/http.
var responseSeeds = []string{
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
	"HTTP/1.1 200 OK\nContent-Length: 5\n\nhello",
	"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1  204 No Content\r\nContent-Length: 7\r\n\r\n",
	"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum, x-other\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 42\r\nX-Extra: 1\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Content-Length\r\n\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
	"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.0 200 OK\r\n\r\nuntil close",
	"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nConnection: foo, Close\r\n\r\nbody",
	"HTTP/1.1 200 OK\r\n\r\nuntil close",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length:  2 \r\n\r\nok",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!",
	"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
	"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nX-Empty:\r\nX-Tab:\tv\t\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX-Bad: a\x01b\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX-High: caf\xc3\xa9\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nBad Name: v\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nName : v\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nNo-Colon\r\n\r\n",
	"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX-Fold: a\r\n b\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\n X-Lead: a\r\n\r\n",
	"HTTP/1.1 200 OK\r\nPragma: no-cache\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 2000 OK\r\n\r\n",
	"HTTP/1.1 +20 OK\r\n\r\n",
	"HTTP/1.1 099 Low\r\n\r\n",
	"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 999 Odd\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/2.0 200 OK\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/0.9 200 OK\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/0.0 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
	"HTTP/0.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
	"HTTP/1.1\r\n\r\n",
	"HTTP/x.y 200 OK\r\n\r\n",
	"ICY 200 OK\r\n\r\n",
	"\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n",
	"",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n  folded\r\n\r\n",
}

// TestReadResponseAgreesWithNetHTTP reads every seed with readResponse and
// with http.ReadResponse, for GET and HEAD, and checks they agree (see
// compareWithNetHTTP).
func TestReadResponseAgreesWithNetHTTP(t *testing.T) {
	for _, s := range responseSeeds {
		for _, head := range []bool{false, true} {
			compareWithNetHTTP(t, []byte(s), head)
		}
	}
}

// FuzzReadResponse runs the same comparison on generated input:
// go test -run x -fuzz FuzzReadResponse ./internal/proxy
func FuzzReadResponse(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s), false)
	}
	f.Fuzz(compareWithNetHTTP)
}

// compareWithNetHTTP checks that readResponse accepts in exactly the cases
// http.ReadResponse does, but for the refusals its doc comment lists, and
// that where both accept they agree on the status, the header, the
// framing, the body and the trailers — the header as the map it reads,
// and as that map with the lines it sets aside for a client's writer
// that takes them (passTo).
func compareWithNetHTTP(t *testing.T, data []byte, head bool) {
	compareOnce(t, data, head, false)
	compareOnce(t, data, head, true)
}

func compareOnce(t *testing.T, data []byte, headReq, pass bool) {
	method := http.MethodGet
	if headReq {
		method = http.MethodHead
	}
	const size = 4096
	stdBR := bufio.NewReaderSize(bytes.NewReader(data), size)
	std, stdErr := http.ReadResponse(stdBR, &http.Request{Method: method})
	var stdBody []byte
	var stdBodyErr error
	var stdAnnounced http.Header
	if stdErr == nil {
		stdAnnounced = std.Trailer.Clone()
		stdBody, stdBodyErr = io.ReadAll(std.Body)
	}

	br := bufio.NewReaderSize(bytes.NewReader(data), size)
	var got backendResponse
	if pass {
		got.passTo = &linesTaken{}
	}
	err := readResponse(br, method, &got, nil)
	if err == nil && pass {
		if ct := std.Header["Content-Type"]; got.contentType() != "" && (len(ct) == 0 || got.contentType() != ct[0]) {
			t.Fatalf("%q: Content-Type %q set aside; net/http read %q", data, got.contentType(), ct)
		}
		set := http.Header{}
		if err := head.ParseFields(string(got.passed.Lines), set); err != nil {
			t.Fatalf("%q: lines set aside %q: %v", data, got.passed.Lines, err)
		}
		for k, vv := range set {
			if head.Hop(k) || k == "Content-Length" {
				t.Fatalf("%q: %s set aside", data, k)
			}
			got.Header[k] = append(got.Header[k], vv...)
		}
		if _, date := set["Date"]; date != got.passed.Date {
			t.Fatalf("%q: Date among the lines %v, reported %v", data, date, got.passed.Date)
		}
		if _, ok := got.Header["Content-Length"]; ok {
			t.Fatalf("%q: Content-Length in the map", data)
		}
		if got.passLen >= 0 {
			got.Header["Content-Length"] = []string{strconv.FormatInt(got.passLen, 10)}
		}
	}
	if err != nil {
		if stdErr == nil && !refusedOnPurpose(data, std, size) {
			t.Fatalf("%q: readResponse refused (%v); net/http read status %d, header %v", data, err, std.StatusCode, std.Header)
		}
		return
	}
	if stdErr != nil {
		t.Fatalf("%q: readResponse accepted what net/http refused (%v)", data, stdErr)
	}
	if got.StatusCode != std.StatusCode || got.ContentLength != std.ContentLength || got.Close != std.Close {
		t.Fatalf("%q: got status %d length %d close %v; net/http %d %d %v", data,
			got.StatusCode, got.ContentLength, got.Close, std.StatusCode, std.ContentLength, std.Close)
	}
	want, gotH := std.Header.Clone(), got.Header.Clone()
	if _, ok := gotH["Cache-Control"]; !ok && want.Get("Pragma") == "no-cache" {
		delete(want, "Cache-Control") // net/http adds it
	}
	if _, ok := want["Connection"]; !ok {
		delete(gotH, "Connection") // net/http drops it when it says close; the proxy drops it always
	}
	if cl := want["Content-Length"]; pass && len(cl) == 1 {
		// The lines' length goes on as a number: "00" as "0".
		if n, err := strconv.ParseInt(cl[0], 10, 64); err == nil {
			want["Content-Length"] = []string{strconv.FormatInt(n, 10)}
		}
	}
	if !reflect.DeepEqual(gotH, want) && !(len(got.Header) == 0 && len(want) == 0) {
		t.Fatalf("%q: header %v; net/http %v", data, got.Header, want)
	}
	if !sameKeys(got.Trailer, stdAnnounced) {
		t.Fatalf("%q: trailer announced %v; net/http %v", data, got.Trailer, stdAnnounced)
	}
	body, bodyErr := io.ReadAll(got.Body)
	if (bodyErr == nil) != (stdBodyErr == nil) {
		if bodyErr != nil && (strings.Contains(bodyErr.Error(), "obs-fold") || strings.Contains(bodyErr.Error(), "not ended by CRLF CRLF") ||
			spacedName(std.Trailer)) {
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

// refusedOnPurpose reports whether a response net/http read is one that
// readResponse refuses by design: a head larger than the buffer, a folded
// field, a field name with a space, or a status code outside 100–999.
func refusedOnPurpose(data []byte, std *http.Response, size int) bool {
	if end := testbed.HeadEnd(data); end < 0 || end+3 > size || testbed.Folded(data) || spacedName(std.Header) {
		return true
	}
	c := std.Status[:3] // net/http took three bytes for a number
	return !(c[0] >= '1' && c[0] <= '9' && digit(c[1]) && digit(c[2]))
}

// spacedName reports whether net/http took a field name with a space.
func spacedName(h http.Header) bool {
	for k := range h {
		if strings.Contains(k, " ") {
			return true
		}
	}
	return false
}

func sameKeys(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

// TestReadResponseRefusals checks the refusals by name: each is a clear
// error, and nothing of the head is left half-read for a next response.
func TestReadResponseRefusals(t *testing.T) {
	cases := map[string]string{
		"HTTP/1.1 200 OK\r\nX-Fold: a\r\n b\r\n\r\n":                           "obs-fold",
		"HTTP/1.1 200 OK\r\nName : v\r\n\r\n":                                  "malformed header field",
		"HTTP/1.1 +20 OK\r\n\r\n":                                              "malformed HTTP status code",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!": "differing Content-Length",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n":                   "unsupported transfer encoding",
		"HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 5000) + "\r\n\r\n":  "too large",
	}
	for in, want := range cases {
		var r backendResponse
		err := readResponse(bufio.NewReaderSize(strings.NewReader(in), 4096), http.MethodGet, &r, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.40q: error %v, want one saying %q", in, err, want)
		}
	}
}

// TestReadResponseReusesItsResponse reads two answers on one connection
// into the same backendResponse: nothing of the first (trailers, framing)
// leaks into the second.
func TestReadResponseReusesItsResponse(t *testing.T) {
	in := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n2\r\nok\r\n0\r\nX-Sum: 1\r\n\r\n" +
		"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\ngone"
	br := bufio.NewReaderSize(strings.NewReader(in), 4096)
	var r backendResponse
	if err := readResponse(br, http.MethodGet, &r, nil); err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(r.Body); err != nil || string(b) != "ok" || r.Trailer.Get("X-Sum") != "1" {
		t.Fatalf("first: body %q (%v), trailer %v", b, err, r.Trailer)
	}
	if err := readResponse(br, http.MethodGet, &r, nil); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r.Body)
	if err != nil || string(b) != "gone" || r.StatusCode != 404 || r.Trailer != nil || r.ContentLength != 4 {
		t.Fatalf("second: status %d body %q (%v) length %d trailer %v", r.StatusCode, b, err, r.ContentLength, r.Trailer)
	}
}

// TestHeaderMapsLentPerAnswer: the map a response head is read into is
// the client's answer's when that is empty, and is then never pooled; else
// it is lent for one answer (pool.headerInto) and comes back empty
// (pool.returnHeader), so nothing of one answer's fields reaches another
// that reuses it — on the same backend connection or, through the pool,
// on another. Fields are set aside for the client's writer only with the
// client's own map, and the connection lets go of that writer with it.
func TestHeaderMapsLentPerAnswer(t *testing.T) {
	p := newPool(TransportOptions{})
	a, b, c := &backendConn{}, &backendConn{}, &backendConn{}
	set := http.Header{"Connection": {"close"}} // set before the answer
	var to linesTaken
	p.headerInto(a, set, &to)
	if !a.resp.lent || len(a.resp.Header) != 0 || a.resp.passTo != nil {
		t.Fatalf("into a header with fields: lent %v, map %v, lines to %v", a.resp.lent, a.resp.Header, a.resp.passTo)
	}
	a.resp.Header["X-First"] = []string{"1"}
	p.returnHeader(a)
	if a.resp.Header != nil {
		t.Fatalf("returned, the connection still holds its map: %v", a.resp.Header)
	}
	p.headerInto(b, set, nil)
	if len(b.resp.Header) != 0 {
		t.Fatalf("a lent map holds an earlier answer's fields: %v", b.resp.Header)
	}
	own := http.Header{}
	p.headerInto(c, own, &to)
	if c.resp.lent || c.resp.passTo != fieldPasser(&to) {
		t.Fatalf("into an empty header: lent %v, lines to %v", c.resp.lent, c.resp.passTo)
	}
	c.resp.Header["X-Own"] = []string{"1"}
	p.returnHeader(c)
	if c.resp.Header != nil || len(own) != 1 || c.resp.passTo != nil {
		t.Fatalf("returned, the client's map: connection holds %v and lines to %v, map %v", c.resp.Header, c.resp.passTo, own)
	}
	for range 4 {
		p.headerInto(b, set, nil)
		if len(b.resp.Header) != 0 {
			t.Fatalf("the client's map went to the pool: lent %v", b.resp.Header)
		}
		p.returnHeader(b)
	}

	// End to end: one backend connection, an answer with a field, then
	// one without it.
	var n atomic.Int32
	be := backend(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("X-Only-First", "yes")
		}
		io.WriteString(w, "ok")
	})
	r := newRig(t, TransportOptions{})
	r.service("s", catalog.ServiceSpec{Mountpoints: []string{"s.test"}})
	r.instance("s", "a", be.Listener.Addr().String(), 1)
	r.settle()
	for i := 1; i <= 3; i++ {
		resp := r.do(http.MethodGet, "s.test", "/", nil)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "ok" || (resp.Header.Get("X-Only-First") != "") != (i == 1) {
			t.Fatalf("answer %d: body %q, X-Only-First %q", i, body, resp.Header.Get("X-Only-First"))
		}
	}
}

// linesTaken is a fieldPasser that keeps what it is given.
type linesTaken struct {
	lines  []byte
	date   bool
	length int64
}

func (l *linesTaken) PassFields(lines []byte, date bool, length int64) {
	l.lines, l.date, l.length = lines, date, length
}
