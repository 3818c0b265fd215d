package tlsfront

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"time"

	"github.com/webrouter/webrouter/internal/route"
)

// Session ticket keys: a new random key every TicketRotation; tickets made
// with one of the last TicketKeys keys are accepted, so a ticket lives at
// most TicketRotation × TicketKeys. Keys are kept in memory only.
const (
	TicketRotation = time.Hour
	TicketKeys     = 24
)

// NewConfig returns the TLS configuration of the HTTPS entry point: TLS
// 1.2 and later with Go's default (AEAD, forward-secret) cipher suites,
// ALPN h2 then http/1.1, and the certificate chosen from the live table by
// server name: the exact name, then the wildcard one, then the
// certificate named defaultCert (when there is one by that name). A client
// that matches none fails its handshake.
func NewConfig(table func() *route.Table, defaultCert string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
			t := table()
			if c := t.Certificate(h.ServerName); c != nil {
				return c, nil
			}
			if c := t.CertificateNamed(defaultCert); c != nil {
				return c, nil
			}
			return nil, fmt.Errorf("no certificate for server name %q and no default certificate %q", h.ServerName, defaultCert)
		},
	}
}

// RotateTickets sets fresh session ticket keys on cfg now and every
// TicketRotation until ctx ends, keeping the last TicketKeys.
func RotateTickets(ctx context.Context, cfg *tls.Config) {
	rotateTickets(ctx, cfg, TicketRotation)
}

func rotateTickets(ctx context.Context, cfg *tls.Config, every time.Duration) {
	var keys [][32]byte
	add := func() {
		var k [32]byte
		if _, err := rand.Read(k[:]); err != nil {
			return // crypto/rand does not fail on Linux; keep the old keys if it does
		}
		keys = append([][32]byte{k}, keys...)
		if len(keys) > TicketKeys {
			keys = keys[:TicketKeys]
		}
		cfg.SetSessionTicketKeys(keys)
	}
	add()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			add()
		}
	}
}
