package stack

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrPortInUse is wrapped by CheckPortFree.
var ErrPortInUse = errors.New("port in use")

// CheckPortFree fails fast when addr (host:port) cannot be listened on, naming the process that
// holds it when /proc says so (Linux; same user). A stale wrangler from a killed stack answers
// /healthz, so trusting /healthz alone would start a stack against the wrong Worker.
func CheckPortFree(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln.Close()
	}
	_, ps, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(ps)
	if holder := PortHolder(port); holder != "" {
		return fmt.Errorf("%w: %s is held by %s", ErrPortInUse, addr, holder)
	}
	return fmt.Errorf("%w: %s: %w", ErrPortInUse, addr, err)
}

// PortHolder names the process listening on a TCP port ("pid 123: workerd serve …"), or "" if
// it cannot tell.
func PortHolder(port int) string {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		file, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(file)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			// sl local_address rem_address st … inode
			if len(fields) < 10 || fields[3] != "0A" { // 0A = LISTEN
				continue
			}
			_, hexPort, ok := strings.Cut(fields[1], ":")
			if p, err := strconv.ParseUint(hexPort, 16, 32); ok && err == nil && int(p) == port {
				inodes["socket:["+fields[9]+"]"] = true
			}
		}
		file.Close()
	}
	if len(inodes) == 0 {
		return ""
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range procs {
		link, err := os.Readlink(fd)
		if err != nil || !inodes[link] {
			continue
		}
		pid := strings.Split(fd, "/")[2]
		cmd, _ := os.ReadFile("/proc/" + pid + "/cmdline")
		line := strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))
		if len(line) > 120 {
			line = line[:120] + "…"
		}
		return fmt.Sprintf("pid %s (%s)", pid, line)
	}
	return "another process"
}
