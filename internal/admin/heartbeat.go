package admin

import (
	"net/http"
)

// heartbeat renews an instance's lease: PUT
// /v1/services/{name}/instances/{id}/heartbeat, no body. 204 when renewed
// (or when the instance has no lease), 404 when the instance is gone (its
// lease expired: the caller registers it again), 503 when the registry
// cannot take writes.
func (s *server) heartbeat(w http.ResponseWriter, r *http.Request) {
	name, id, err := instancePath(r)
	if err != nil {
		fail(w, err)
		return
	}
	if err := s.Store.Heartbeat(r.Context(), name, id); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
