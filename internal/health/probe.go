package health

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/webrouter/webrouter/internal/catalog"
	"github.com/webrouter/webrouter/internal/upstream"
)

// prober runs one probe of one kind.
type prober struct {
	m      *Manager
	c      upstream.Check
	status catalog.StatusSet
}

func newProber(m *Manager, c upstream.Check) (*prober, error) {
	p := &prober{m: m, c: c}
	if c.Path != "" {
		set, err := catalog.ParseStatusSet(c.Status)
		if err != nil {
			return nil, err
		}
		p.status = set
	}
	return p, nil
}

// probe checks addr once within the check's timeout: a TCP connect, or an
// HTTP GET whose status must be in the accepted set.
func (p *prober) probe(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, p.c.Timeout)
	defer cancel()
	if p.c.Path == "" {
		conn, err := p.m.dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+p.c.Path, nil)
	if err != nil {
		return err
	}
	if p.c.Host != "" {
		req.Host = p.c.Host
	}
	req.Header.Set("User-Agent", "webrouter-healthcheck")
	resp, err := p.m.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if !p.status.Has(resp.StatusCode) {
		return fmt.Errorf("status %d, want %s", resp.StatusCode, p.c.Status)
	}
	return nil
}
