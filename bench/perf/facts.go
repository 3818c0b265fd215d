package main

import (
	"bufio"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// machineFacts describes the machine and the software measured, one
// "- key: value" line each, for the results file.
func machineFacts(root string, proxies []string) []string {
	facts := []string{
		"nproc: " + firstLine(command("nproc")),
		"CPU: " + cpuModel(),
		"kernel: " + firstLine(command("uname", "-sr")),
		"Go: " + runtime.Version(),
		"webrouter commit: " + gitCommit(root),
		"wrk: " + firstLine(command("wrk", "-v")),
	}
	for _, p := range proxies {
		switch p {
		case "nginx":
			facts = append(facts, "nginx: "+firstLine(command("nginx", "-v")))
		case "haproxy":
			facts = append(facts, "haproxy: "+firstLine(command("haproxy", "-v")))
		case "caddy":
			facts = append(facts, "caddy: "+firstLine(command("caddy", "version")))
		}
	}
	return facts
}

// command runs a short command and returns its combined output, whatever
// its exit status (wrk -v exits 1).
func command(name string, args ...string) string {
	out, _ := exec.Command(tool(name), args...).CombinedOutput()
	return string(out)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(s)
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// gitCommit is HEAD's short hash, marked when the work tree has changes.
func gitCommit(root string) string {
	cmd := exec.Command("git", "rev-parse", "--short", "HEAD")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	st := exec.Command("git", "status", "--porcelain", "--untracked-files=no")
	st.Dir = root
	if o, err := st.Output(); err == nil && len(strings.TrimSpace(string(o))) > 0 {
		c += " (with uncommitted changes)"
	}
	return c
}
