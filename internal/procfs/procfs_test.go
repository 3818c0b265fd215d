package procfs

import (
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

// TestReadings: a child is in its parent's tree; CPU time grows with work
// done; memory is read for a live process and zero for one that is gone.
func TestReadings(t *testing.T) {
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep(1):", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	self := os.Getpid()
	if tree := Tree(self); tree[0] != self || !slices.Contains(tree, cmd.Process.Pid) {
		t.Errorf("Tree(%d) = %v, want it and its child %d", self, tree, cmd.Process.Pid)
	}

	a := TreeCPU(self)
	for end := time.Now().Add(100 * time.Millisecond); time.Now().Before(end); {
	}
	if d := TreeCPU(self).Sub(a); d.Total() < ClockTick || d.Total() != d.User+d.Sys {
		t.Errorf("100 ms of work read as %+v", d)
	}

	if kb := StatusKB(self, "VmRSS"); kb <= 0 {
		t.Errorf("VmRSS of this process: %d kB", kb)
	}
	child := StatusKB(cmd.Process.Pid, "VmRSS")
	if all := TreeKB(self, "VmRSS"); child <= 0 || all <= child {
		t.Errorf("the tree's VmRSS %d kB, the child's %d", all, child)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if kb := StatusKB(cmd.Process.Pid, "VmRSS"); kb != 0 {
		t.Errorf("VmRSS of a process that is gone: %d kB", kb)
	}
}
