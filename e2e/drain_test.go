package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestDrainingAnInstance: an instance set draining takes no new requests,
// while its long request and its WebSocket continue; in_flight shows them,
// and `webrouter instance drain --wait` returns once both have ended.
func TestDrainingAnInstance(t *testing.T) {
	r := startRouter(t, t.TempDir(), "--drain-timeout", "1m")
	started, release := make(chan struct{}, 1), make(chan struct{})
	var releaseOnce sync.Once
	releaseAll := func() { releaseOnce.Do(func() { close(release) }) }
	old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Path {
		case "/slow":
			started <- struct{}{}
			<-release
			io.WriteString(w, "slow done")
		case "/ws":
			c, err := websocket.Accept(w, req, nil)
			if err != nil {
				return
			}
			defer c.CloseNow()
			for {
				typ, msg, err := c.Read(req.Context())
				if err != nil {
					return
				}
				c.Write(req.Context(), typ, msg)
			}
		default:
			io.WriteString(w, "old")
		}
	}))
	t.Cleanup(old.Close)
	t.Cleanup(releaseAll) // runs first: the slow handler must end before old closes
	fresh := named(t, "new")
	r.mustAPI("PUT", "/v1/services/app", `{"mountpoints":["app.test"]}`)
	r.mustAPI("PUT", "/v1/services/app/instances/old", instanceJSON(old))

	slow := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest("GET", "http://"+r.http+"/slow", nil)
		req.Host = "app.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- string(b)
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+r.http+"/ws", &websocket.DialOptions{Host: "app.test"})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()

	r.mustAPI("PUT", "/v1/services/app/instances/new", instanceJSON(fresh))
	var in struct {
		State    string `json:"state"`
		InFlight int64  `json:"in_flight"`
	}
	decode(t, r.mustAPI("PUT", "/v1/services/app/instances/old/state", `{"state":"draining"}`), &in)
	if in.State != "draining" || in.InFlight != 2 {
		t.Fatalf("after setting draining: %+v, want draining with 2 in flight (request + WebSocket)", in)
	}
	for i := 0; i < 10; i++ {
		if code, body, _ := r.get("app.test", "/"); code != 200 || body != "new /" {
			t.Fatalf("new request %d went to %q (%d) while old drains", i, body, code)
		}
	}

	drained := make(chan error, 1)
	go func() {
		cmd := exec.Command(binary, "instance", "drain", "app", "old", "--wait", "--timeout", "30s", "--admin", r.admin)
		cmd.Env = cleanEnv()
		out, err := cmd.CombinedOutput()
		if err != nil {
			err = &exec.ExitError{}
			t.Logf("drain --wait: %s", out)
		}
		drained <- err
	}()
	if err := ws.Write(ctx, websocket.MessageText, []byte("still open")); err != nil {
		t.Fatalf("WebSocket on the draining instance: %v", err)
	}
	if _, msg, err := ws.Read(ctx); err != nil || string(msg) != "still open" {
		t.Fatalf("WebSocket echo: %q %v", msg, err)
	}
	select {
	case <-drained:
		t.Fatal("drain --wait returned while requests were in flight")
	case <-time.After(500 * time.Millisecond):
	}
	releaseAll()
	if got := <-slow; got != "slow done" {
		t.Errorf("the long request on the draining instance: %q", got)
	}
	ws.Close(websocket.StatusNormalClosure, "")
	select {
	case err := <-drained:
		if err != nil {
			t.Errorf("drain --wait failed: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("drain --wait did not return after everything ended")
	}
	decode(t, r.mustAPI("GET", "/v1/services/app/instances/old", ""), &in)
	if in.InFlight != 0 {
		t.Errorf("in_flight after the drain = %d", in.InFlight)
	}
	if code, body, _ := r.get("app.test", "/"); code != 200 || !strings.Contains(body, "new") {
		t.Errorf("after drain: %d %q", code, body)
	}
}
