package proxy

import "net/http"

// NewH2CTransport returns the transport for services whose
// backend_protocol is "h2c" (gRPC servers, for instance): HTTP/2 with
// prior knowledge over cleartext TCP, multiplexing every request to one
// address over a shared connection. Dial errors are marked as for
// NewTransport, so a request that never reached a backend is tried on
// another instance. Trailers and streamed bodies in both directions pass
// through.
func NewH2CTransport(o TransportOptions) *http.Transport {
	t := NewTransport(o)
	t.Protocols = new(http.Protocols)
	t.Protocols.SetUnencryptedHTTP2(true)
	return t
}
