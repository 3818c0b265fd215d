package admin

import (
	"errors"
	"net/http"
	"os"

	"github.com/webrouter/webrouter/internal/api"
	"github.com/webrouter/webrouter/internal/catalog"
)

// ErrUpgradeBusy is wrapped by an Upgrade error when an upgrade cannot
// start yet (one is under way, or the process the last one replaced is
// still draining): the API answers 409.
var ErrUpgradeBusy = errors.New("upgrade not possible yet")

// putInstanceState changes only an instance's administrative state:
// "draining" or "maintenance" take it out of rotation while what is in
// flight on it continues (up to the drain timeout); "ready" puts it back.
// The answer shows what is still in flight, so a deploy tool can wait for
// zero before stopping the instance.
func (s *server) putInstanceState(w http.ResponseWriter, r *http.Request) {
	name, id, err := instancePath(r)
	if err != nil {
		fail(w, err)
		return
	}
	var body api.InstanceState
	if err := decode(r, &body); err != nil {
		fail(w, err)
		return
	}
	if err := catalog.CheckState(body.State); err != nil {
		fail(w, err)
		return
	}
	in, rev, err := s.Store.SetInstanceState(r.Context(), name, id, body.State)
	if err != nil {
		fail(w, err)
		return
	}
	s.settle(r, rev)
	writeJSON(w, http.StatusOK, s.instanceView(name, in))
}

// upgrade starts a binary upgrade and answers when the new process is
// ready (200) or has failed (500, this process keeps serving) or cannot
// start yet (409).
func (s *server) upgrade(w http.ResponseWriter, r *http.Request) {
	if s.Upgrade == nil {
		writeError(w, http.StatusNotImplemented, "this router cannot upgrade itself")
		return
	}
	err := s.Upgrade()
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, api.Upgrade{OldPID: os.Getpid(), Message: "the new process is ready; this one stops accepting and drains"})
	case errors.Is(err, ErrUpgradeBusy):
		writeError(w, http.StatusConflict, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}
