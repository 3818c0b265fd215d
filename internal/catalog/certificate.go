package catalog

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// ExpiryWarning is how close to its expiry a certificate is flagged
// (log, metrics, GET /v1/certificates).
const ExpiryWarning = 14 * 24 * time.Hour

// maxPEM bounds the certificate chain and the key of one certificate.
const maxPEM = 256 << 10

// Certificate is a TLS certificate chain and its private key, stored in the
// registry so that every router serving it has it. Values produced by
// NewCertificate or ParseCertificate are valid: the chain parses and the
// key fits the leaf. A Certificate must not be modified after it has been
// handed to a State.
//
// Key is secret: no API answer, log line or error message may contain it.
// String and LogValue leave it out, so a Certificate printed by mistake does
// not leak it.
type Certificate struct {
	Name    string   `json:"name"`
	Cert    string   `json:"cert"`              // PEM: the leaf first, then intermediates
	Key     string   `json:"key"`               // PEM private key (PKCS#1, PKCS#8 or SEC 1)
	Domains []string `json:"domains,omitempty"` // server names it serves, overriding the leaf's SANs
}

// CertificateSpec is what a client writes for a certificate.
type CertificateSpec struct {
	Name    string   `json:"name,omitempty"` // optional; must equal the name in the path
	Cert    string   `json:"cert"`
	Key     string   `json:"key"`
	Domains []string `json:"domains,omitempty"`
}

// CertInfo is the public description of a certificate.
type CertInfo struct {
	Names     []string // server names it serves: Domains if given, else the leaf's DNS SANs
	SANs      []string // the leaf's DNS names
	Subject   string
	Issuer    string
	NotBefore time.Time
	NotAfter  time.Time
}

// ExpiresSoon reports whether the certificate expires within ExpiryWarning
// of now (or has expired).
func (i CertInfo) ExpiresSoon(now time.Time) bool { return i.NotAfter.Sub(now) < ExpiryWarning }

// String names the certificate without its key.
func (c *Certificate) String() string { return "certificate " + c.Name }

// LogValue implements slog.LogValuer: the name and domains, never the key.
func (c *Certificate) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", c.Name), slog.Any("domains", c.Domains))
}

// Equal reports whether two certificates are the same in every field.
func (c *Certificate) Equal(o *Certificate) bool {
	return c.Name == o.Name && c.Cert == o.Cert && c.Key == o.Key && slices.Equal(c.Domains, o.Domains)
}

// NewCertificate validates spec and returns the certificate in canonical
// form, or a *FieldError: the chain must parse, the key must fit the leaf
// and the leaf must not have expired at now. The error never contains key
// material.
func NewCertificate(name string, spec CertificateSpec, now time.Time) (*Certificate, error) {
	if err := CheckName("name", name); err != nil {
		return nil, err
	}
	if spec.Name != "" && spec.Name != name {
		return nil, fieldErr("name", "%q does not match the certificate name %q in the path", spec.Name, name)
	}
	c, info, err := build(name, spec)
	if err != nil {
		return nil, err
	}
	if now.After(info.NotAfter) {
		return nil, fieldErr("cert", "expired on %s (subject %q); renew it and put the new one", info.NotAfter.UTC().Format(time.RFC3339), info.Subject)
	}
	return c, nil
}

// ParseCertificate decodes a stored certificate (the JSON of a Certificate)
// and checks it as NewCertificate does, except for expiry: a certificate
// that expired while stored is still loaded (and flagged), so that a
// router restart does not change what is served.
func ParseCertificate(data []byte) (*Certificate, error) {
	var spec CertificateSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("decode certificate: %w", err)
	}
	if err := CheckName("name", spec.Name); err != nil {
		return nil, err
	}
	c, _, err := build(spec.Name, spec)
	return c, err
}

// Parse returns the certificate ready for crypto/tls (with Leaf set) and
// its description. It fails only for a Certificate that NewCertificate or
// ParseCertificate did not produce.
func (c *Certificate) Parse() (*tls.Certificate, CertInfo, error) {
	if len(c.Cert) > maxPEM || len(c.Key) > maxPEM {
		return nil, CertInfo{}, fieldErr("cert", "the chain or the key is larger than %d KiB", maxPEM>>10)
	}
	for rest := []byte(c.Cert); ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, CertInfo{}, fieldErr("cert", "holds a PEM block of type %q; want only CERTIFICATE blocks, the leaf first (the key goes in \"key\")", block.Type)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return nil, CertInfo{}, fieldErr("cert", "a certificate of the chain does not parse: %v", err)
		}
	}
	tc, err := tls.X509KeyPair([]byte(c.Cert), []byte(c.Key))
	if err != nil {
		// crypto/tls's messages name what is wrong, never the key bytes.
		field := "key"
		if strings.Contains(err.Error(), "certificate") && !strings.Contains(err.Error(), "private key") {
			field = "cert"
		}
		return nil, CertInfo{}, fieldErr(field, "%v", err)
	}
	leaf := tc.Leaf
	info := CertInfo{
		Subject: leaf.Subject.String(), Issuer: leaf.Issuer.String(),
		NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter,
	}
	for _, n := range leaf.DNSNames {
		if n = strings.TrimSuffix(strings.ToLower(n), "."); n != "" && !slices.Contains(info.SANs, n) {
			info.SANs = append(info.SANs, n)
		}
	}
	info.Names = info.SANs
	if len(c.Domains) > 0 {
		info.Names = c.Domains
	}
	return &tc, info, nil
}

// build canonicalises spec and checks that it parses.
func build(name string, spec CertificateSpec) (*Certificate, CertInfo, error) {
	if strings.TrimSpace(spec.Cert) == "" {
		return nil, CertInfo{}, fieldErr("cert", "required: the PEM certificate chain, leaf first")
	}
	if strings.TrimSpace(spec.Key) == "" {
		return nil, CertInfo{}, fieldErr("key", "required: the PEM private key of the leaf certificate")
	}
	c := &Certificate{Name: name, Cert: spec.Cert, Key: spec.Key}
	for i, d := range spec.Domains {
		d = strings.TrimSuffix(strings.ToLower(d), ".")
		h := strings.TrimPrefix(d, "*.")
		if msg := checkHostname(h); msg != "" {
			return nil, CertInfo{}, fieldErr(fmt.Sprintf("domains[%d]", i), "%q: host %s", spec.Domains[i], msg)
		}
		if !slices.Contains(c.Domains, d) {
			c.Domains = append(c.Domains, d)
		}
	}
	_, info, err := c.Parse()
	if err != nil {
		return nil, CertInfo{}, err
	}
	return c, info, nil
}
