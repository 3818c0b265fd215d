package etcd

import (
	"encoding/json"
	"fmt"

	"github.com/webrouter/webrouter/internal/catalog"
)

// parseService decodes a stored service. The value is read as the admin
// API's catalog.ServiceSpec (its JSON names are those of catalog.Service)
// and validated by catalog.NewService: a value webrouter wrote parses as
// catalog.ParseService would parse it, and one written by hand with
// etcdctl may leave out the optional fields, which take their defaults.
func parseService(name string, data []byte) (catalog.Service, error) {
	var spec catalog.ServiceSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		return catalog.Service{}, fmt.Errorf("decode service: %w", err)
	}
	if spec.Name != name {
		return catalog.Service{}, fmt.Errorf("the key names service %q but the value names %q", name, spec.Name)
	}
	return catalog.NewService(name, spec)
}

// parseInstance decodes a stored instance as parseService does a service,
// through catalog.InstanceSpec and catalog.NewInstance.
func parseInstance(id string, data []byte) (catalog.Instance, error) {
	var spec catalog.InstanceSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		return catalog.Instance{}, fmt.Errorf("decode instance: %w", err)
	}
	if spec.ID != id {
		return catalog.Instance{}, fmt.Errorf("the key names instance %q but the value names %q", id, spec.ID)
	}
	return catalog.NewInstance(id, spec)
}

// parseCertificate decodes a stored certificate through
// catalog.ParseCertificate (an expired one still loads); the name inside
// must equal the key's.
func parseCertificate(name string, data []byte) (*catalog.Certificate, error) {
	c, err := catalog.ParseCertificate(data)
	if err != nil {
		return nil, err
	}
	if c.Name != name {
		return nil, fmt.Errorf("the key names certificate %q but the value names %q", name, c.Name)
	}
	return c, nil
}
