package catalog

import (
	"errors"
	"fmt"
)

// ErrNotFound is returned (wrapped) when a named service or instance does not
// exist.
var ErrNotFound = errors.New("not found")

// FieldError says which field of a write was wrong and why. Every error a
// client can cause by sending bad input is a *FieldError.
type FieldError struct {
	Field   string // JSON name of the field, e.g. "mountpoints[1]" or "port"
	Problem string // what is wrong and, where it helps, what is allowed
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// ConflictError is returned when a service claims a mountpoint that another
// service already owns.
type ConflictError struct {
	Mountpoint string // canonical form
	Owner      string // the service that holds it
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("mountpoint %q is already claimed by service %q", e.Mountpoint, e.Owner)
}
