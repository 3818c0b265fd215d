package tcpproxy

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/webrouter/webrouter/internal/catalog"
)

// v2sig starts every PROXY protocol v2 header.
var v2sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

// writeHeader sends the PROXY protocol header of version ("", "v1" or
// "v2") that tells the backend the client's address (src) and the address
// the client connected to (dst). "" sends nothing.
func writeHeader(w io.Writer, version string, src, dst net.Addr) error {
	if version == "" {
		return nil
	}
	h, err := proxyHeader(version, src, dst)
	if err != nil {
		return err
	}
	_, err = w.Write(h)
	return err
}

// proxyHeader builds a PROXY protocol header (see
// https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt).
func proxyHeader(version string, src, dst net.Addr) ([]byte, error) {
	s, sok := src.(*net.TCPAddr)
	d, dok := dst.(*net.TCPAddr)
	v4 := sok && dok && s.IP.To4() != nil && d.IP.To4() != nil
	switch version {
	case catalog.ProxyV1:
		if !sok || !dok {
			return []byte("PROXY UNKNOWN\r\n"), nil
		}
		fam, sip, dip := "TCP6", s.IP.To16(), d.IP.To16()
		if v4 {
			fam, sip, dip = "TCP4", s.IP.To4(), d.IP.To4()
		}
		return []byte("PROXY " + fam + " " + sip.String() + " " + dip.String() + " " +
			strconv.Itoa(s.Port) + " " + strconv.Itoa(d.Port) + "\r\n"), nil
	case catalog.ProxyV2:
		h := append([]byte{}, v2sig...)
		if !sok || !dok {
			return append(h, 0x20, 0x00, 0, 0), nil // LOCAL, UNSPEC
		}
		var addrs []byte
		fam := byte(0x21) // TCP over IPv6
		if v4 {
			fam = 0x11 // TCP over IPv4
			addrs = append(append(addrs, s.IP.To4()...), d.IP.To4()...)
		} else {
			addrs = append(append(addrs, s.IP.To16()...), d.IP.To16()...)
		}
		addrs = binary.BigEndian.AppendUint16(addrs, uint16(s.Port))
		addrs = binary.BigEndian.AppendUint16(addrs, uint16(d.Port))
		h = append(h, 0x21, fam) // version 2, PROXY
		h = binary.BigEndian.AppendUint16(h, uint16(len(addrs)))
		return append(h, addrs...), nil
	}
	return nil, fmt.Errorf("unknown PROXY protocol version %q", version)
}
