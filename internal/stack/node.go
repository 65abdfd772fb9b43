package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// NodeBinDir returns the folder of the Node.js that every Node-based part runs on (npm ci,
// wrangler dev): the machine's when it is one the toolchain supports, else a pinned Node 24 LTS
// that scripts/node.sh fetches once into .tools/. The script is the one rule, shared with
// scripts/test.sh; its one-line verdict ("node: v24.21.0 at …") goes to log.
func NodeBinDir(ctx context.Context, root string, log io.Writer) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "node.sh"), "--bin-dir")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	killGroupOnCancel(cmd) // the first run fetches a Node with npm
	err := cmd.Run()
	msg := strings.TrimSpace(stderr.String())
	if err != nil {
		if msg == "" {
			msg = err.Error()
		}
		return "", errors.New(msg) // already one line starting with "node:"
	}
	if log != nil && msg != "" {
		fmt.Fprintln(log, msg)
	}
	dir := strings.TrimSpace(stdout.String())
	if dir == "" {
		return "", errors.New("node: scripts/node.sh printed no folder")
	}
	return dir, nil
}

// withPath returns env with dir first on PATH. A dir already on PATH is left where it is: node.sh
// found that `node` by looking up this same PATH, so it already comes first, and moving a folder
// such as /usr/bin forward would change which of its other programs win.
func withPath(env []string, dir string) []string {
	out := make([]string, 0, len(env)+1)
	path := dir
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
			if !slices.Contains(filepath.SplitList(v), dir) {
				path = dir + string(os.PathListSeparator) + v
			}
			continue
		}
		out = append(out, kv)
	}
	return append(out, "PATH="+path)
}
