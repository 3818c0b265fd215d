package scenario

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
)

// exited reports whether process pid has exited: it is gone, or it is a
// zombie nobody reaps (a re-executed process whose parent exited, under an
// init that does not reap).
func exited(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	st, ok := procStat(pid)
	return !ok || st.state == 'Z'
}

// stat is what this package reads from /proc/<pid>/stat.
type stat struct {
	state byte
	ppid  int
}

// procStat reads /proc/<pid>/stat; ok is false if the process is gone.
func procStat(pid int) (stat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, false
	}
	// "pid (comm) state ppid …"; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return stat{}, false
	}
	f := bytes.Fields(b[i+2:])
	if len(f) < 2 {
		return stat{}, false
	}
	ppid, _ := strconv.Atoi(string(f[1]))
	return stat{state: f[0][0], ppid: ppid}, true
}

// children returns the live processes whose parent is ppid.
func children(ppid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := procStat(pid); ok && st.ppid == ppid && st.state != 'Z' {
			out = append(out, pid)
		}
	}
	return out
}

// waitExit polls until pid has exited, within the given time.
func waitExit(ctx context.Context, pid int, within time.Duration) error {
	return poll(ctx, within, 20*time.Millisecond, fmt.Sprintf("process %d to exit", pid), func() (bool, error) {
		return exited(pid), nil
	})
}

// signalAndWait sends sig to pid and waits for it to exit within the given
// time, then kills it.
func signalAndWait(pid int, sig syscall.Signal, within time.Duration) error {
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %d: %w", pid, err)
	}
	if err := waitExit(context.Background(), pid, within); err != nil {
		syscall.Kill(pid, syscall.SIGKILL)
		return err
	}
	return nil
}

// freePort returns a loopback port nothing listens on right now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// title is the process title (its command line, as nginx rewrites it).
func title(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return string(bytes.TrimRight(bytes.ReplaceAll(b, []byte{0}, []byte{' '}), " "))
}
