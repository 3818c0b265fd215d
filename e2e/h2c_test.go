package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/webrouter/webrouter/internal/certtest"
	"github.com/webrouter/webrouter/internal/testbed"
)

// TestH2CStreamingWithTrailers: an HTTP/2 client on the HTTPS entry point
// streams to an h2c backend (backend_protocol "h2c", as a gRPC server
// would be) and back, message by message, and gets the trailers.
func TestH2CStreamingWithTrailers(t *testing.T) {
	r := startTLSRouter(t)
	ca := certtest.MustCA("ca")
	r.putCert("grpc", ca.MustIssue(certtest.Options{Names: []string{"grpc.test"}}))
	be := testbed.H2CEcho(t)
	r.mustAPI("PUT", "/v1/services/grpc", `{"mountpoints":["grpc.test"],"backend_protocol":"h2c"}`)
	r.mustAPI("PUT", "/v1/services/grpc/instances/a", instanceJSON(be))

	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", "https://grpc.test/echo.Echo/Chat", pr)
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	respc := make(chan *http.Response, 1)
	errc := make(chan error, 1)
	go func() {
		resp, err := httpsClient(r.HTTPS, ca.Pool()).Do(req)
		if err != nil {
			errc <- err
			return
		}
		respc <- resp
	}()
	pw.Write([]byte("hello"))
	var resp *http.Response
	select {
	case resp = <-respc:
	case err := <-errc:
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s %s", resp.Proto, resp.Status, b)
	}
	buf := make([]byte, 64)
	for i, msg := range []string{"hello", "streaming", "world"} {
		if i > 0 {
			pw.Write([]byte(msg))
		}
		n, err := io.ReadAtLeast(resp.Body, buf, len(msg))
		if err != nil || string(buf[:n]) != strings.ToUpper(msg) {
			t.Fatalf("message %d: %q %v", i, buf[:n], err)
		}
	}
	pw.Close()
	io.ReadAll(resp.Body)
	if resp.Trailer.Get("Grpc-Status") != "0" || resp.Trailer.Get("Grpc-Message") != "done" {
		t.Errorf("trailers %v", resp.Trailer)
	}
}
