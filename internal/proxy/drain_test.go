package proxy

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/upstream"
)

// slowAndSocket is a backend with a long request (/slow, answering when
// release closes), a WebSocket echo (/ws) and a quick page (/).
func slowAndSocket(t *testing.T, name string, started chan<- struct{}, release <-chan struct{}) string {
	be := backend(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow":
			started <- struct{}{}
			select {
			case <-release:
				io.WriteString(w, name+" finished")
			case <-r.Context().Done():
			}
		case "/ws":
			c, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			defer c.CloseNow()
			for {
				typ, msg, err := c.Read(r.Context())
				if err != nil {
					return
				}
				c.Write(r.Context(), typ, msg)
			}
		default:
			io.WriteString(w, name)
		}
	})
	return hostOf(be)
}

type result struct {
	code int
	body string
	err  error
}

func (r *rig) async(host, path string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("GET", r.front.URL+path, nil)
		req.Host = host
		resp, err := r.front.Client().Do(req)
		if err != nil {
			ch <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		ch <- result{code: resp.StatusCode, body: string(b)}
	}()
	return ch
}

func dialWS(t *testing.T, r *rig, host string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, strings.Replace(r.front.URL, "http", "ws", 1)+"/ws", &websocket.DialOptions{Host: host})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wsEcho(c *websocket.Conn, msg string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		return err
	}
	_, got, err := c.Read(ctx)
	if err == nil && string(got) != msg {
		return io.ErrUnexpectedEOF
	}
	return err
}

// TestDrainingLetsInFlightFinish: a draining (or deleted) instance gets no
// new requests, while its long request and its WebSocket go on.
func TestDrainingLetsInFlightFinish(t *testing.T) {
	for _, how := range []string{"draining", "deleted"} {
		t.Run(how, func(t *testing.T) {
			r := newRig(t, TransportOptions{}, upstream.WithDrainTimeout(time.Minute))
			started, release := make(chan struct{}, 1), make(chan struct{})
			old := slowAndSocket(t, "old", started, release)
			fresh := slowAndSocket(t, "new", make(chan struct{}, 10), nil)
			r.service("app", catalog.ServiceSpec{Mountpoints: []string{"app.test"}})
			r.instance("app", "old", old, 10)

			long := r.async("app.test", "/slow")
			<-started
			ws := dialWS(t, r, "app.test")
			defer ws.CloseNow()
			ep, _ := r.hosts.Endpoint("app/old")
			if ep.InFlight() != 2 {
				t.Fatalf("in flight on the old instance = %d, want 2 (request + WebSocket)", ep.InFlight())
			}

			r.instance("app", "new", fresh, 10)
			if how == "draining" {
				r.setState("app", "old", catalog.Draining)
			} else {
				r.remove("app", "old")
			}
			for i := 0; i < 5; i++ {
				resp := r.do("GET", "app.test", "/", nil)
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != "new" {
					t.Fatalf("new request %d went to %q while the old instance drains", i, b)
				}
			}
			if err := wsEcho(ws, "still there"); err != nil {
				t.Fatalf("WebSocket on the draining instance: %v", err)
			}
			close(release)
			if res := <-long; res.err != nil || res.code != 200 || res.body != "old finished" {
				t.Fatalf("long request: %+v", res)
			}
			ws.Close(websocket.StatusNormalClosure, "")
			deadline := time.Now().Add(5 * time.Second)
			for ep.InFlight() != 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if ep.InFlight() != 0 {
				t.Errorf("in flight after both ended = %d", ep.InFlight())
			}
		})
	}
}

// TestDrainTimeoutCutsOff: what is still in flight when the drain timeout
// passes is cut off, and the request gets a 502 that says why.
func TestDrainTimeoutCutsOff(t *testing.T) {
	r := newRig(t, TransportOptions{}, upstream.WithDrainTimeout(300*time.Millisecond))
	started, release := make(chan struct{}, 1), make(chan struct{})
	defer close(release)
	old := slowAndSocket(t, "old", started, release)
	r.service("app", catalog.ServiceSpec{Mountpoints: []string{"app.test"}})
	r.instance("app", "old", old, 10)
	long := r.async("app.test", "/slow")
	<-started
	ws := dialWS(t, r, "app.test")
	defer ws.CloseNow()

	r.setState("app", "old", catalog.Draining)
	select {
	case res := <-long:
		if res.code != 502 || !strings.Contains(res.body, "drain timeout") {
			t.Errorf("long request after the drain timeout: %+v", res)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the long request was not cut off by the drain timeout")
	}
	// Both are cut by the same deadline, each on its own goroutine: the
	// WebSocket may close a moment after the request.
	deadline := time.Now().Add(5 * time.Second)
	for wsEcho(ws, "x") == nil {
		if time.Now().After(deadline) {
			t.Fatal("WebSocket still open 5s after the drain timeout")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Ready again: a new drain starts from scratch later.
	r.setState("app", "old", catalog.Ready)
	if resp := r.do("GET", "app.test", "/", nil); resp.StatusCode != 200 {
		t.Errorf("after ready again: %d", resp.StatusCode)
	}
}
