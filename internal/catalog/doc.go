// Package catalog is webrouter's data model and its desired state.
//
// A Service is a name, the mountpoints it answers on and its options; an
// Instance is one running copy of a service. Both are validated and put in
// canonical form by the constructors in this package, so every registry
// backend (embedded store, etcd, Consul, the Docker agent) accepts and rejects
// exactly the same input with the same messages.
//
// State holds the merged desired state of a registry and hands its changes to
// consumers through a Feed, which coalesces per service so that a slow
// consumer always gets the latest state and never a backlog. The package does
// no I/O.
package catalog
