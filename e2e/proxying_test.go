package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestProxyingThroughTheBinary: forwarding headers, hop-by-hop removal,
// query bytes, WebSocket and a streamed response, through the real process.
func TestProxyingThroughTheBinary(t *testing.T) {
	r := startRouter(t, t.TempDir())
	release := make(chan struct{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Path {
		case "/ws":
			c, err := websocket.Accept(w, req, nil)
			if err != nil {
				return
			}
			defer c.CloseNow()
			c.SetReadLimit(1 << 20)
			for {
				typ, msg, err := c.Read(req.Context())
				if err != nil {
					return
				}
				c.Write(req.Context(), typ, msg)
			}
		case "/events":
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: one\n\n")
			w.(http.Flusher).Flush()
			<-release
			io.WriteString(w, "data: two\n\n")
		default:
			w.Header().Set("Connection", "X-Hop")
			w.Header().Set("X-Hop", "secret")
			json.NewEncoder(w).Encode(map[string]any{"uri": req.RequestURI, "header": req.Header, "host": req.Host})
		}
	}))
	t.Cleanup(be.Close)
	r.mustAPI("PUT", "/v1/services/app", `{"mountpoints":["app.test/api"]}`)
	r.mustAPI("PUT", "/v1/services/app/instances/a", instanceJSON(be))

	req, _ := http.NewRequest("GET", "http://"+r.http+"/api/v1/items?b=2&a=%zz;c", nil)
	req.Host = "APP.test:8080"
	req.Header.Set("X-Forwarded-For", "198.51.100.9")
	req.Header.Set("Connection", "X-Client-Hop")
	req.Header.Set("X-Client-Hop", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		URI    string      `json:"uri"`
		Host   string      `json:"host"`
		Header http.Header `json:"header"`
	}
	json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if got.URI != "/v1/items?b=2&a=%zz;c" || got.Host != "APP.test:8080" {
		t.Errorf("backend saw %q for host %q", got.URI, got.Host)
	}
	for k, v := range map[string]string{
		"X-Forwarded-For": "198.51.100.9, 127.0.0.1", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "APP.test:8080",
		"X-Real-Ip": "127.0.0.1", "X-Forwarded-Prefix": "/api", "X-Client-Hop": "",
	} {
		if g := got.Header.Get(k); g != v {
			t.Errorf("backend %s = %q, want %q", k, g, v)
		}
	}
	if id := got.Header.Get("X-Request-Id"); id == "" || id != resp.Header.Get("X-Request-Id") {
		t.Errorf("request id to backend %q, to client %q", id, resp.Header.Get("X-Request-Id"))
	}
	if resp.Header.Get("X-Hop") != "" {
		t.Error("hop-by-hop response header reached the client")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+r.http+"/api/ws", &websocket.DialOptions{Host: "app.test"})
	if err != nil {
		t.Fatalf("WebSocket through the router: %v", err)
	}
	c.SetReadLimit(1 << 20)
	for _, m := range []string{"ping", strings.Repeat("x", 100000)} {
		c.Write(ctx, websocket.MessageText, []byte(m))
		if _, back, err := c.Read(ctx); err != nil || string(back) != m {
			t.Fatalf("WebSocket echo of %d bytes: %d bytes, %v", len(m), len(back), err)
		}
	}
	c.Close(websocket.StatusNormalClosure, "")

	sreq, _ := http.NewRequest("GET", "http://"+r.http+"/api/events", nil)
	sreq.Host = "app.test"
	sresp, err := http.DefaultClient.Do(sreq)
	if err != nil {
		t.Fatal(err)
	}
	defer sresp.Body.Close()
	br := bufio.NewReader(sresp.Body)
	if line, err := br.ReadString('\n'); err != nil || line != "data: one\n" {
		t.Fatalf("first event %q, %v: not flushed through the router", line, err)
	}
	close(release)
	rest, _ := io.ReadAll(br)
	if !strings.Contains(string(rest), "data: two") {
		t.Errorf("rest of stream %q", rest)
	}
}
