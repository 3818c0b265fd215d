package head

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/textproto"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestReadBlock(t *testing.T) {
	for _, tt := range []struct {
		in, block string
		withStart bool
		err       error
	}{
		{"GET / HTTP/1.1\r\nA: 1\r\n\r\nbody", "GET / HTTP/1.1\r\nA: 1\r\n\r\n", true, nil},
		{"GET / HTTP/1.1\nA: 1\n\nbody", "GET / HTTP/1.1\nA: 1\n\n", true, nil},
		{"\r\n\r\nrest", "\r\n\r\n", true, nil}, // an empty start line does not end a head
		{"\r\nrest", "\r\n", false, nil},        // an empty trailer section
		{"X: 1\r\n\r\n", "X: 1\r\n\r\n", false, nil},
		{"", "", true, io.EOF},
		{"GET / HTTP/1.1\r\nA: 1\r\n", "", true, io.ErrUnexpectedEOF},
		{"GET / HTTP/1.1\r\nA: " + strings.Repeat("a", 100) + "\r\n\r\n", "", true, ErrTooLarge},
	} {
		br := bufio.NewReaderSize(strings.NewReader(tt.in), 64)
		got, err := ReadBlock(br, tt.withStart)
		if got != tt.block || !errors.Is(err, tt.err) {
			t.Errorf("%.30q: %q, %v; want %q, %v", tt.in, got, err, tt.block, tt.err)
			continue
		}
		if err != nil && tt.in != "" {
			// On an error nothing is consumed: another reader gets it all.
			if rest, _ := io.ReadAll(br); string(rest) != tt.in {
				t.Errorf("%.30q: %q left after %v, want all of it", tt.in, rest, err)
			}
		}
		if err == nil {
			rest, _ := io.ReadAll(br)
			if got+string(rest) != tt.in {
				t.Errorf("%.30q: block and rest %q %q do not make the input", tt.in, got, rest)
			}
		}
	}
}

// TestReadBlockWaitsForTheRest feeds a head in pieces over a socket: the
// block comes whole once its empty line arrives, and a deadline error is
// passed on as it is.
// ReadBlockWait calls its wait once before it gives up on a block larger
// than the buffer, and never for a block buffered whole (and once before
// it reads: TestReadBlockWaitsForTheRest).
func TestReadBlockWait(t *testing.T) {
	waits := 0
	wait := func() { waits++ }
	br := bufio.NewReaderSize(strings.NewReader("GET / HTTP/1.1\r\nA: 1\r\n\r\nrest"), 64)
	br.Peek(1) // what the server does first: the whole head is in
	if got, err := ReadBlockWait(br, true, wait); err != nil || got != "GET / HTTP/1.1\r\nA: 1\r\n\r\n" || waits != 0 {
		t.Fatalf("buffered whole: %q, %v, %d waits; want no wait", got, err, waits)
	}
	br = bufio.NewReaderSize(strings.NewReader("GET / HTTP/1.1\r\nA: "+strings.Repeat("a", 100)+"\r\n\r\n"), 64)
	br.Peek(64)
	if _, err := ReadBlockWait(br, true, wait); !errors.Is(err, ErrTooLarge) || waits != 1 {
		t.Fatalf("larger than the buffer: %v, %d waits; want ErrTooLarge after one", err, waits)
	}
}

func TestReadBlockWaitsForTheRest(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() {
		for _, p := range []string{"GET / HT", "TP/1.1\r\nA: 1\r", "\n", "\r\nnext"} {
			b.Write([]byte(p))
			time.Sleep(5 * time.Millisecond)
		}
	}()
	br := bufio.NewReaderSize(a, 64)
	waits := 0
	got, err := ReadBlockWait(br, true, func() { waits++ })
	if err != nil || got != "GET / HTTP/1.1\r\nA: 1\r\n\r\n" || waits != 1 {
		t.Fatalf("%q, %v, %d waits; want one (ReadBlockWait)", got, err, waits)
	}
	a.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err = ReadBlock(br, true)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("after the deadline: %v, want a timeout", err)
	}
}

// RequestFields keeps the Host field out of the header, in the order met,
// and keeps the values in the scratch array it is given when that is long
// enough, a new one otherwise.
func TestRequestFields(t *testing.T) {
	h := http.Header{}
	var host []string
	scratch := make([]string, 8)
	got, _, err := RequestFields("host: a\r\nAccept: */*\r\nHost: b\r\n\r\n", h, &host, scratch)
	if err != nil || !reflect.DeepEqual(h, http.Header{"Accept": {"*/*"}}) || !reflect.DeepEqual(host, []string{"a", "b"}) {
		t.Fatalf("header %v, host %q, %v", h, host, err)
	}
	if &got[0] != &scratch[0] || &h["Accept"][0] != &scratch[0] {
		t.Fatal("the scratch array was not used")
	}
	clear(h)
	got, _, err = RequestFields("A: 1\r\nB: 2\r\n\r\n", h, &host, make([]string, 1))
	if err != nil || len(got) < 2 || h.Get("A") != "1" || h.Get("B") != "2" {
		t.Fatalf("a short scratch: %v, %v, %v", got, h, err)
	}
	// Values past the scratch's end go into an array of their own, which
	// is returned; appending to a value does not spill into the next.
	clear(h)
	short := make([]string, 2)
	got, _, err = RequestFields("A: 1\r\nB: 2\r\nC: 3\r\nA: 4\r\nD: 5\r\nE: 6\r\n\r\n", h, &host, short)
	want := http.Header{"A": {"1", "4"}, "B": {"2"}, "C": {"3"}, "D": {"5"}, "E": {"6"}}
	if err != nil || !reflect.DeepEqual(h, want) || &got[0] == &short[0] || len(got) < 4 {
		t.Fatalf("past the scratch: %v (returned %d), %v", h, len(got), err)
	}
	h["B"] = append(h["B"], "x")
	h["C"] = append(h["C"], "y")
	if h.Get("C") != "3" || h.Get("D") != "5" {
		t.Fatalf("an append spilled into a neighbour: %v", h)
	}
}

func TestParseFields(t *testing.T) {
	h := http.Header{}
	err := ParseFields("content-type: text/plain \r\nX-Dup: 1\r\nx-dup:2\r\nX-Empty:\r\nX-Tab:\tv\t\r\nX-High: caf\xc3\xa9\r\n\r\nNot: read\r\n", h)
	want := http.Header{"Content-Type": {"text/plain"}, "X-Dup": {"1", "2"}, "X-Empty": {""}, "X-Tab": {"v"}, "X-High": {"caf\xc3\xa9"}}
	if err != nil || !reflect.DeepEqual(h, want) {
		t.Fatalf("%v, %v; want %v", h, err, want)
	}
	// Appending to one field's values must not overwrite another's.
	h["X-Tab"] = append(h["X-Tab"], "w")
	if h.Get("X-Empty") != "" || h.Get("X-High") != "caf\xc3\xa9" {
		t.Fatalf("an append spilled into a neighbour: %v", h)
	}
	refusals(t, map[string]string{
		"A: 1\r\n b\r\n\r\n":     "obs-fold",
		"\tA: 1\r\n\r\n":         "obs-fold",
		"Bad Name: 1\r\n\r\n":    "malformed header field",
		"Name : 1\r\n\r\n":       "malformed header field",
		": 1\r\n\r\n":            "malformed header field",
		"No-Colon\r\n\r\n":       "malformed header field",
		"A: x\x00y\r\n\r\n":      "malformed header field",
		"A: x\x7fy\r\n\r\n":      "malformed header field",
		"A: x\ry\r\n\r\n":        "malformed header field",
		"Caf\xc3\xa9: 1\r\n\r\n": "malformed header field",
	}, func(in string) error { return ParseFields(in, http.Header{}) })
}

// TestRepeatedFields checks that the values of a name met more than once
// are kept in order wherever the repeats fall: among a few fields, among
// many, between names of one length, and into a map that had fields
// before; net/textproto is the reference.
func TestRepeatedFields(t *testing.T) {
	var many []string
	for i := range 20 {
		many = append(many, fmt.Sprintf("X-F%d: %d", i, i))
	}
	for _, c := range []struct {
		name  string
		lines []string
	}{
		{"few", []string{"A: 1", "B: 2", "a: 3", "C: 4", "B: 5", "A: 6"}},
		{"same length", []string{"Ab: 1", "Ac: 2", "Ab: 3", "Ad: 4", "Ac: 5"}},
		{"many", append(append([]string{}, many...), "X-F0: a", "X-F15: b", "X-F16: c", "X-F19: d", "X-F0: e")},
		{"many, repeats in a row", append(append([]string{}, many[:16]...), "X-F15: a", "X-F17: b", "X-F17: c")},
		// Common names (commonNames) go in without a lookup the first
		// time, in any case spelt.
		{"common", []string{"Set-Cookie: a", "Date: 1", "set-cookie: b", "Cookie: x", "SET-COOKIE: c", "Host: h", "host: i", "Via: 1", "X-F1: 2", "via: 3"}},
	} {
		text := strings.Join(c.lines, "\r\n") + "\r\n\r\n"
		want, err := textproto.NewReader(bufio.NewReader(strings.NewReader(text))).ReadMIMEHeader()
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		if err := ParseFields(text, h); err != nil || !reflect.DeepEqual(h, http.Header(want)) {
			t.Errorf("%s: %v, %v; want %v", c.name, h, err, want)
		}
	}
	h := http.Header{"B": {"0"}}
	if err := ParseFields("A: 1\r\nB: 2\r\nA: 3\r\n\r\n", h); err != nil || !reflect.DeepEqual(h, http.Header{"A": {"1", "3"}, "B": {"0", "2"}}) {
		t.Errorf("into a map with a field: %v, %v", h, err)
	}
	h = http.Header{"Set-Cookie": {"0"}}
	if err := ParseFields("Set-Cookie: 1\r\nDate: 2\r\n\r\n", h); err != nil || !reflect.DeepEqual(h, http.Header{"Set-Cookie": {"0", "1"}, "Date": {"2"}}) {
		t.Errorf("into a map with a common field: %v, %v", h, err)
	}
}

// TestErrorsKeepValuesOut checks that no error quotes a field's value,
// which may be a secret on its way to a log.
func TestErrorsKeepValuesOut(t *testing.T) {
	for _, in := range []string{
		"Cookie: s3cret\x01\r\n\r\n",
		"Cookie: a\r\n s3cret\r\n\r\n",
		"s3cret\r\n\r\n",
	} {
		err := ParseFields(in, http.Header{})
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%q: %v", in, err)
		}
	}
	var tr http.Header
	var b Body
	b.Chunks(bufio.NewReader(strings.NewReader("0\r\nAuthorization: s3cret\n\n")), &tr)
	if _, err := io.ReadAll(&b); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("trailer: %v", err)
	}
}

func TestFraming(t *testing.T) {
	h := http.Header{"Content-Length": {"5", " 5 "}}
	if n, err := contentLength(h); n != 5 || err != nil || len(h["Content-Length"]) != 1 {
		t.Errorf("agreeing lengths: %d, %v, %v", n, err, h)
	}
	for _, cl := range [][]string{{"5", "6"}, {""}, {"-1"}, {"+5"}, {"0x10"}, {"99999999999999999999"}} {
		if _, err := contentLength(http.Header{"Content-Length": cl}); err == nil {
			t.Errorf("Content-Length %q accepted", cl)
		}
	}
	if n, err := contentLength(http.Header{}); n != -1 || err != nil {
		t.Errorf("no Content-Length: %d, %v", n, err)
	}
	for _, tt := range []struct {
		te      []string
		http11  bool
		chunked bool
		bad     bool
	}{
		{[]string{"chunked"}, true, true, false},
		{[]string{"Chunked"}, true, true, false},
		{[]string{"gzip, chunked"}, true, false, true},
		{[]string{"chunked", "chunked"}, true, false, true},
		{[]string{"identity"}, true, false, true},
		{[]string{"gzip"}, false, false, false}, // HTTP/1.0: ignored
	} {
		h := http.Header{"Transfer-Encoding": tt.te}
		chunked, err := chunked(h, tt.http11)
		if chunked != tt.chunked || (err != nil) != tt.bad || h["Transfer-Encoding"] != nil {
			t.Errorf("%q (1.1: %v): %v, %v, left %v", tt.te, tt.http11, chunked, err, h)
		}
	}
	h = http.Header{"Trailer": {"x-sum, , X-Other"}}
	if tr, err := announcedTrailer(h, true); err != nil || !reflect.DeepEqual(tr, http.Header{"X-Sum": nil, "X-Other": nil}) || h["Trailer"] != nil {
		t.Errorf("announced: %v, %v, left %v", tr, err, h)
	}
	if _, err := announcedTrailer(http.Header{"Trailer": {"Content-Length"}}, true); err == nil {
		t.Error("Content-Length announced as a trailer was accepted")
	}
	h = http.Header{"Trailer": {"X-Sum"}}
	if tr, _ := announcedTrailer(h, false); tr != nil || h["Trailer"] == nil {
		t.Errorf("without chunks: %v, left %v", tr, h)
	}
}

// ResponseFields sets aside the fields without a Seen bit, as lines in
// canonical form and in the order met, and puts the others into the map:
// the lines parsed into that map give what ParseFields gives for the
// whole head. Date and the first Content-Type are reported; a Passed
// reused starts empty; a malformed field is an error, as for ParseFields.
func TestResponseFields(t *testing.T) {
	in := "content-type: text/plain \r\nSet-Cookie: a=1\r\nX-Odd-Name:\tv\t\r\nContent-Length: 5\r\n" +
		"connection: close, X-Odd-Name\r\nset-cookie: b=2\r\nDATE: today\r\nContent-Type: text/html\r\n" +
		"X-Request-Id: r1\r\nX-Empty:\r\nX-High: caf\xc3\xa9\r\n\r\nNot: read\r\n"
	var pass Passed
	pass.Lines = append(pass.Lines, "Stale: 1\r\n"...)
	pass.Date, pass.ContentType = true, "stale"
	h := http.Header{}
	_, seen, err := ResponseFields(in, h, &pass, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantLines := "Content-Type: text/plain\r\nSet-Cookie: a=1\r\nX-Odd-Name: v\r\nSet-Cookie: b=2\r\n" +
		"Date: today\r\nContent-Type: text/html\r\nX-Empty: \r\nX-High: caf\xc3\xa9\r\n"
	if string(pass.Lines) != wantLines {
		t.Errorf("lines\n%q, want\n%q", pass.Lines, wantLines)
	}
	if !pass.Date || pass.ContentType != "text/plain" {
		t.Errorf("Date %v, Content-Type %q; want true, text/plain", pass.Date, pass.ContentType)
	}
	wantMap := http.Header{"Connection": {"close, X-Odd-Name"}, "X-Request-Id": {"r1"}}
	if !reflect.DeepEqual(h, wantMap) || !slices.Equal(pass.ContentLength, []string{"5"}) {
		t.Errorf("map %v, Content-Length %q; want %v, [5]", h, pass.ContentLength, wantMap)
	}
	if want := SeenContentLength | SeenConnection | SeenRequestID; seen != want {
		t.Errorf("seen %08b, want %08b", seen, want)
	}
	all := http.Header{}
	if err := ParseFields(in, all); err != nil {
		t.Fatal(err)
	}
	h["Content-Length"] = pass.ContentLength
	if err := ParseFields(string(pass.Lines)+"\r\n", h); err != nil || !reflect.DeepEqual(h, all) {
		t.Errorf("map and lines together: %v, %v; ParseFields gives %v", h, err, all)
	}

	// Reused: emptied first; nothing set aside, nothing reported.
	h = http.Header{}
	if _, _, err := ResponseFields("Content-Length: 0\r\n\r\n", h, &pass, nil); err != nil || len(pass.Lines) != 0 || pass.Date || pass.ContentType != "" || len(h) != 0 || !slices.Equal(pass.ContentLength, []string{"0"}) {
		t.Errorf("reused: %q, %v, %q, %q, map %v, %v", pass.Lines, pass.Date, pass.ContentType, pass.ContentLength, h, err)
	}
	if _, seen, err := ResponseFields("X-A: 1\r\n\r\n", h, &pass, nil); err != nil || seen != 0 || len(pass.ContentLength) != 0 {
		t.Errorf("no Content-Length: seen %08b, lengths %q, %v", seen, pass.ContentLength, err)
	}
	for _, bad := range []string{"X-A: 1\r\n B: 2\r\n\r\n", "X A: 1\r\n\r\n", "X-A: \x01\r\n\r\n", "X-A\r\n\r\n"} {
		if _, _, err := ResponseFields(bad, http.Header{}, &pass, nil); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// PassedFrame reads from a head set aside by ResponseFields the frame
// ReadFrame reads from the whole head parsed into a map.
func TestPassedFrame(t *testing.T) {
	for _, fields := range []string{
		"Content-Length: 5\r\n\r\n",
		"Content-Length: 5\r\nContent-Length:  5\r\nX-A: 1\r\n\r\n",
		"Content-Length: 5\r\nContent-Length: 6\r\n\r\n",
		"Content-Length: x\r\n\r\n",
		"X-A: 1\r\n\r\n",
		"Transfer-Encoding: chunked\r\nContent-Length: 5\r\nTrailer: X-Sum\r\n\r\n",
		"Connection: close\r\nContent-Length: 0\r\n\r\n",
	} {
		var pass Passed
		h, all := http.Header{}, http.Header{}
		_, seen, err := ResponseFields(fields, h, &pass, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := ParseFields(fields, all); err != nil {
			t.Fatal(err)
		}
		f, err := PassedFrame(h, seen, &pass, 1, 1)
		want, wantErr := ReadFrame(all, SeenAll, 1, 1)
		if !reflect.DeepEqual(f, want) || (err == nil) != (wantErr == nil) {
			t.Errorf("%q: %+v, %v; ReadFrame %+v, %v", fields, f, err, want, wantErr)
		}
	}
}

// RequestFields reports the framing fields it met, whatever their case
// and only those; ReadFrame given them reads the same frame as when it
// looks every field up (SeenAll), and leaves the header the same.
func TestSeenFraming(t *testing.T) {
	for _, tt := range []struct {
		fields string
		seen   Seen
	}{
		{"Host: a\r\nAccept: */*\r\n\r\n", 0},
		{"content-length: 5\r\nX-Trailer: 1\r\nContent-Lengthy: 2\r\n\r\n", SeenContentLength},
		{"Connection: close\r\nContent-Length: 0\r\n\r\n", SeenConnection | SeenContentLength},
		{"transfer-encoding: chunked\r\nTRAILER: X-Sum\r\nconnection: keep-alive\r\n\r\n", SeenConnection | SeenTransferEncoding | SeenTrailer},
		{"Transfer-Encoding: chunked\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", SeenTransferEncoding | SeenContentLength},
		{"Content-Length: 5\r\nContent-Length: 6\r\n\r\n", SeenContentLength}, // an error either way
		{"Transfer-Encoding: gzip\r\n\r\n", SeenTransferEncoding},
	} {
		for _, v := range [][2]int{{1, 1}, {1, 0}} {
			h, all := http.Header{}, http.Header{}
			_, seen, err := RequestFields(tt.fields, h, nil, nil)
			if err != nil || seen != tt.seen {
				t.Errorf("%q: seen %04b, %v; want %04b", tt.fields, seen, err, tt.seen)
				continue
			}
			if err := ParseFields(tt.fields, all); err != nil {
				t.Fatal(err)
			}
			f, err := ReadFrame(h, seen, v[0], v[1])
			fAll, errAll := ReadFrame(all, SeenAll, v[0], v[1])
			if !reflect.DeepEqual(f, fAll) || (err == nil) != (errAll == nil) || !reflect.DeepEqual(h, all) {
				t.Errorf("%q, HTTP/%d.%d: %+v, %v, left %v; with every field looked up %+v, %v, left %v", tt.fields, v[0], v[1], f, err, h, fAll, errAll, all)
			}
		}
	}
}

// TestBodyHeld: the rest of a body of known length the reader holds
// whole comes as the reader's own bytes, consumed (the body then ends,
// what follows stays); one not all there, a chunked one and an ended one
// give nil and consume nothing.
func TestBodyHeld(t *testing.T) {
	br := bufio.NewReaderSize(strings.NewReader("hello worldnext"), 64)
	br.Peek(1) // all of it buffered
	var b Body
	b.Length(br, 11)
	if n, _ := b.Read(make([]byte, 2)); n != 2 {
		t.Fatalf("read %d of the body first", n)
	}
	held := b.Held()
	if string(held) != "llo world" {
		t.Fatalf("Held = %q, want the rest, %q", held, "llo world")
	}
	if n, err := b.Read(make([]byte, 4)); n != 0 || err != io.EOF {
		t.Fatalf("read after Held: %d, %v; want 0, EOF", n, err)
	}
	if b.Held() != nil {
		t.Fatal("Held of an ended body is not nil")
	}
	if rest, _ := io.ReadAll(br); string(rest) != "next" {
		t.Fatalf("after the held body the reader has %q, want %q", rest, "next")
	}

	// Not all there yet: a body longer than what came so far.
	pr, pw := io.Pipe()
	go pw.Write([]byte("hel"))
	br = bufio.NewReaderSize(pr, 64)
	br.Peek(3)
	b.Length(br, 5)
	if b.Held() != nil {
		t.Fatal("Held of a body not all buffered is not nil")
	}
	go func() { pw.Write([]byte("lo")); pw.Close() }()
	if got, err := io.ReadAll(&b); string(got) != "hello" || err != nil {
		t.Fatalf("after a nil Held the body reads %q, %v; want all of it", got, err)
	}

	br = bufio.NewReaderSize(strings.NewReader("5\r\nhello\r\n0\r\n\r\n"), 64)
	br.Peek(1)
	b.Chunks(br, nil)
	if b.Held() != nil {
		t.Fatal("Held of a chunked body is not nil")
	}
	if got, err := io.ReadAll(&b); string(got) != "hello" || err != nil {
		t.Fatalf("after a nil Held the chunked body reads %q, %v", got, err)
	}
}

func TestBody(t *testing.T) {
	br := bufio.NewReaderSize(strings.NewReader("hellonext"), 64)
	var b Body
	b.Length(br, 5)
	if got, err := io.ReadAll(&b); string(got) != "hello" || err != nil {
		t.Fatalf("length body: %q, %v", got, err)
	}
	if rest, _ := io.ReadAll(br); string(rest) != "next" {
		t.Fatalf("a length body read past its end: %q left", rest)
	}
	// The last bytes come with io.EOF: no further call is needed to learn
	// the body ended.
	b.Length(bufio.NewReaderSize(strings.NewReader("hellonext"), 64), 5)
	if n, err := b.Read(make([]byte, 16)); n != 5 || err != io.EOF {
		t.Fatalf("one read of a length body: %d, %v; want 5, EOF", n, err)
	}
	b.Length(bufio.NewReader(strings.NewReader("hel")), 5)
	if _, err := io.ReadAll(&b); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short length body: %v", err)
	}

	var tr http.Header = http.Header{"X-Sum": nil}
	br = bufio.NewReaderSize(strings.NewReader("5\r\nhello\r\n0\r\nX-Sum: 9\r\nX-More: 1\r\n\r\nnext"), 64)
	b.Chunks(br, &tr)
	if got, err := io.ReadAll(&b); string(got) != "hello" || err != nil {
		t.Fatalf("chunked body: %q, %v", got, err)
	}
	if !reflect.DeepEqual(tr, http.Header{"X-Sum": {"9"}, "X-More": {"1"}}) {
		t.Fatalf("trailer: %v", tr)
	}
	if rest, _ := io.ReadAll(br); string(rest) != "next" {
		t.Fatalf("a chunked body read past its end: %q left", rest)
	}
	refusals(t, map[string]string{
		"0\r\nX-Sum: 9\n\n":           "not ended by CRLF CRLF",
		"0\r\nX-Sum: 9\r\n b\r\n\r\n": "obs-fold",
		"0\r\n":                       "unexpected EOF",
		"5\r\nhel":                    "unexpected EOF",
	}, func(in string) error {
		var tr http.Header
		b.Chunks(bufio.NewReader(strings.NewReader(in)), &tr)
		_, err := io.ReadAll(&b)
		return err
	})
}

// refusals checks that run refuses each input with an error saying its
// message.
func refusals(t *testing.T, cases map[string]string, run func(in string) error) {
	t.Helper()
	for in, msg := range cases {
		if err := run(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want an error saying %q", in, err, msg)
		}
	}
}

// TestDecimal: Decimal parses what strconv.ParseUint parses among strings
// of digits, to the same number, and leaves everything else to it.
func TestDecimal(t *testing.T) {
	for _, s := range []string{"0", "7", "1024", "000123", "999999999999999999", "1000000000000000000", "9223372036854775807",
		"", "+1", "-1", "1_000", " 1", "1 ", "0x10", "12a", "١٢"} {
		n, ok := Decimal(s)
		want, err := strconv.ParseUint(s, 10, 63)
		switch {
		case ok && (err != nil || int64(want) != n):
			t.Errorf("Decimal(%q) = %d; strconv: %d, %v", s, n, want, err)
		case !ok && len(s) >= 1 && len(s) <= 18 && err == nil:
			t.Errorf("Decimal(%q) left to strconv a string of up to 18 digits", s)
		}
	}
}

// TestCut: Cut splits as strings.Cut does with the same one-byte separator.
func TestCut(t *testing.T) {
	for _, s := range []string{"", " ", "GET / HTTP/1.1", "a  b", "/p?q?r", "no-sep", "end "} {
		for _, sep := range []byte{' ', '?'} {
			b, a, f := Cut(s, sep)
			wb, wa, wf := strings.Cut(s, string(sep))
			if b != wb || a != wa || f != wf {
				t.Errorf("Cut(%q, %q) = %q, %q, %v; strings.Cut: %q, %q, %v", s, sep, b, a, f, wb, wa, wf)
			}
		}
	}
}

// TestSeenFields: a parse reports each field Seen names, and only those;
// Hop knows the hop-by-hop fields (RFC 9110 7.6.1, and Proxy-Connection).
func TestSeenFields(t *testing.T) {
	for field, bit := range map[string]Seen{
		"Connection": SeenConnection, "Content-Length": SeenContentLength, "Transfer-Encoding": SeenTransferEncoding,
		"Trailer": SeenTrailer, "Upgrade": SeenHop, "te": SeenHop, "Keep-Alive": SeenHop, "Proxy-Connection": SeenHop,
		"Proxy-Authenticate": SeenHop, "Proxy-Authorization": SeenHop, "expect": SeenExpect,
		"X-Request-Id": SeenRequestID, "x-forwarded-for": SeenForwardedFor, "X-Forwarded-Host": 0, "Accept": 0,
	} {
		_, seen, err := RequestFields(field+": 1\r\nAccept-Language: en\r\n\r\n", http.Header{}, nil, nil)
		if err != nil || seen != bit {
			t.Errorf("%s: seen %08b, want %08b (%v)", field, seen, bit, err)
		}
		hop := bit&SeenHopByHop != 0
		if Hop(http.CanonicalHeaderKey(field)) != hop {
			t.Errorf("Hop(%s) = %v, want %v", field, !hop, hop)
		}
	}
}

// TestReadBlockAgreesWithLines checks ReadBlock against its definition:
// the lines one by one up to the first empty one. Random heads of CR, LF
// and letters arrive in random pieces (a reader that returns a few bytes
// at a time), so the search resumes where the last stopped, often between
// a CR and its LF.
func TestReadBlockAgreesWithLines(t *testing.T) {
	byLines := func(b []byte, withStart bool) int {
		first := withStart
		for scan := 0; ; {
			j := bytes.IndexByte(b[scan:], '\n')
			if j < 0 {
				return -1
			}
			empty := j == 0 || j == 1 && b[scan] == '\r'
			scan += j + 1
			if empty && !first {
				return scan
			}
			first = false
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("\r\n\r\na:")
	for n := 0; n < 20000; n++ {
		in := make([]byte, rng.IntN(24))
		for i := range in {
			in[i] = alphabet[rng.IntN(len(alphabet))]
		}
		withStart := rng.IntN(2) == 0
		want := byLines(in, withStart)
		br := bufio.NewReaderSize(&trickle{b: in, rng: rng}, 64)
		got, err := ReadBlock(br, withStart)
		switch {
		case want < 0 && err == nil:
			t.Fatalf("%q (start %v): block %q, want none", in, withStart, got)
		case want >= 0 && (err != nil || got != string(in[:want])):
			t.Fatalf("%q (start %v): block %q, %v; want %q", in, withStart, got, err, in[:want])
		}
	}
}

// trickle reads b a few bytes at a time.
type trickle struct {
	b   []byte
	rng *rand.Rand
}

func (r *trickle) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(r.b), 1+r.rng.IntN(3))
	copy(p, r.b[:n])
	r.b = r.b[n:]
	return n, nil
}
