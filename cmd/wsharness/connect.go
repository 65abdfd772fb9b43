package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/qubital/office-router/internal/cli"
	"github.com/qubital/office-router/internal/harness"
)

// connectCmd is `wsharness connect`: a handshake token from -token or the issuer, then an
// interactive socket (connect).
func connectCmd(ctx context.Context, inv *invocation) error {
	auth := inv.fs.String("auth", "subprotocol", "token position: header or subprotocol")
	if done, err := inv.parse(); done || err != nil {
		return err
	}
	a := harness.Access{Token: inv.token}
	if inv.token == "" {
		var err error
		if _, a, err = inv.access(ctx); err != nil {
			return err
		}
	} else if inv.router == "" {
		return fmt.Errorf("%w: -token needs -router", cli.ErrUsage)
	}
	if inv.router != "" {
		a.URL = harness.OrgURL(inv.router, inv.org)
	}
	return connect(ctx, a, *auth, inv.stdin, inv.stdout, inv.stderr)
}

func connect(ctx context.Context, a harness.Access, auth string, stdin io.Reader, stdout, stderr io.Writer) error {
	pos := harness.InSubprotocol
	if auth == "header" {
		pos = harness.InHeader
	}
	url := a.URL
	r, err := harness.Dial(ctx, url, a.Token, pos, nil)
	if err != nil {
		return err
	}
	if r.Conn == nil {
		return fmt.Errorf("handshake refused by %s: %d %s", url, r.Status, r.Reason)
	}
	defer r.Conn.Close()
	fmt.Fprintf(stderr, "connected to %s; a line is broadcast, \"/to USER TEXT\" is direct, \"/raw FRAME\" is sent as is; Ctrl-D quits\n", url)
	done := make(chan error, 1)
	go func() {
		for {
			_, data, err := r.Conn.ReadMessage()
			if err != nil {
				done <- err
				return
			}
			fmt.Fprintf(stdout, "< %s\n", data)
		}
	}()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-done:
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				fmt.Fprintf(stderr, "closed by server: %d %s\n", ce.Code, ce.Text)
				return nil
			}
			return err
		case line, ok := <-lines:
			if !ok {
				// Close politely and print what arrives until the router's close answers ours.
				_ = r.Conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
				select {
				case <-done:
				case <-time.After(2 * time.Second):
				case <-ctx.Done():
				}
				return nil
			}
			frame, err := frameOf(line)
			if err != nil {
				fmt.Fprintln(stderr, err)
				continue
			}
			if frame == nil {
				continue
			}
			if err := r.Conn.WriteMessage(websocket.TextMessage, frame); err != nil {
				return err
			}
		}
	}
}

// frameOf turns a line typed into connect into the frame to send: "/to USER TEXT" is a direct
// message, "/raw FRAME" goes out byte for byte (to see how a router answers a bad frame), any
// other line is a broadcast of its text.
func frameOf(line string) ([]byte, error) {
	line = strings.TrimSpace(line)
	switch {
	case line == "":
		return nil, nil
	case strings.HasPrefix(line, "/raw "):
		return []byte(strings.TrimPrefix(line, "/raw ")), nil
	case strings.HasPrefix(line, "/to "):
		to, text, ok := strings.Cut(strings.TrimPrefix(line, "/to "), " ")
		if !ok || to == "" {
			return nil, errors.New(`usage: /to USER TEXT`)
		}
		return json.Marshal(map[string]any{"type": "direct", "to": to, "data": text})
	}
	return json.Marshal(map[string]any{"type": "broadcast", "data": line})
}
