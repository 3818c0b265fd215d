package scenario

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// proc identifies one process. A pid alone does not: once the process has
// exited the pid may be reused (pid_max may be as low as 32768), so the
// start time goes with it, and a process is signalled only through a
// handle that pins it (os.FindProcess opens a pidfd on Linux).
type proc struct {
	pid   int
	start string // clock ticks from boot to the start, /proc/<pid>/stat field 22
}

// stat is what this package reads from /proc/<pid>/stat.
type stat struct {
	state byte
	ppid  int
	start string
}

// procStat reads /proc/<pid>/stat; ok is false if the process is gone.
func procStat(pid int) (stat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, false
	}
	// "pid (comm) state ppid … starttime …"; comm may hold spaces and
	// parentheses. After comm, state is field 3 and starttime field 22.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return stat{}, false
	}
	f := bytes.Fields(b[i+2:])
	if len(f) < 20 {
		return stat{}, false
	}
	ppid, _ := strconv.Atoi(string(f[1]))
	return stat{state: f[0][0], ppid: ppid, start: string(f[19])}, true
}

// findProc returns the live process pid; false if it is gone or a zombie.
func findProc(pid int) (proc, bool) {
	st, ok := procStat(pid)
	if !ok || st.state == 'Z' || pid <= 0 {
		return proc{}, false
	}
	return proc{pid: pid, start: st.start}, true
}

// alive reports whether p still runs: not gone, not a zombie nobody reaps
// (a re-executed process whose parent exited, under an init that does not
// reap), not another process under the same pid.
func (p proc) alive() bool {
	st, ok := procStat(p.pid)
	return ok && st.state != 'Z' && st.start == p.start
}

// errGone is returned when signalling a process that has exited.
var errGone = errors.New("process has exited")

// signal sends sig to p if it still runs, and errGone if it does not.
func (p proc) signal(sig syscall.Signal) error {
	h, err := os.FindProcess(p.pid) // a pidfd: the pid cannot be reused while h is open
	if err != nil {
		return errGone
	}
	defer h.Release()
	if !p.alive() {
		return errGone
	}
	if err := h.Signal(sig); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			return errGone
		}
		return fmt.Errorf("signal %d: %w", p.pid, err)
	}
	return nil
}

// children returns the live processes whose parent is p.
func (p proc) children() []proc {
	ents, err := os.ReadDir("/proc")
	if err != nil || !p.alive() {
		return nil
	}
	var out []proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := procStat(pid); ok && st.ppid == p.pid && st.state != 'Z' {
			out = append(out, proc{pid: pid, start: st.start})
		}
	}
	return out
}

// waitExit polls until p has exited, within the given time.
func (p proc) waitExit(ctx context.Context, within time.Duration) error {
	return poll(ctx, within, 20*time.Millisecond, fmt.Sprintf("process %d to exit", p.pid), func() (bool, error) {
		return !p.alive(), nil
	})
}

// stop sends sig to p and waits for it to exit within the given time, then
// kills it.
func (p proc) stop(sig syscall.Signal, within time.Duration) error {
	if err := p.signal(sig); err != nil {
		if errors.Is(err, errGone) {
			return nil
		}
		return err
	}
	if err := p.waitExit(context.Background(), within); err != nil {
		p.signal(syscall.SIGKILL)
		return err
	}
	return nil
}

// title is the process title (its command line, as nginx rewrites it).
func title(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return string(bytes.TrimRight(bytes.ReplaceAll(b, []byte{0}, []byte{' '}), " "))
}
