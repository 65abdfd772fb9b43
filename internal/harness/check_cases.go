package harness

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// open connects user to org with a crafted valid token and consumes the welcome frame.
func (c *checker) open(ctx context.Context, user, org string) (*websocket.Conn, error) {
	tok := Craft(c.cfg.Key, RS256Header(c.cfg.Key), c.claimsFor(user, org))
	r, err := Dial(ctx, OrgURL(c.base, org), tok, InSubprotocol, nil)
	if err != nil {
		return nil, err
	}
	if r.Conn == nil {
		return nil, fmt.Errorf("handshake refused: %d %s", r.Status, r.Reason)
	}
	if w, err := ReadJSON(r.Conn, c.cfg.Timeout); err != nil || w["type"] != "welcome" {
		r.Conn.Close()
		return nil, fmt.Errorf("no welcome: %v %v", w, err)
	}
	return r.Conn, nil
}

// nextOfType reads frames until one of type typ arrives.
func (c *checker) nextOfType(conn *websocket.Conn, typ string) (map[string]any, error) {
	for {
		m, err := ReadJSON(conn, c.cfg.Timeout)
		if err != nil {
			return nil, err
		}
		if m["type"] == typ {
			return m, nil
		}
	}
}

func closeAll(conns ...*websocket.Conn) {
	for _, conn := range conns {
		if conn != nil {
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
			conn.Close()
		}
	}
}

func (c *checker) presence(ctx context.Context) (string, error) {
	org := c.org("presence")
	a, err := c.open(ctx, c.user("pa"), org)
	if err != nil {
		return "", err
	}
	defer closeAll(a)
	b, err := c.open(ctx, c.user("pb"), org)
	if err != nil {
		return "", err
	}
	var got []string
	if m, err := c.nextOfType(a, "presence"); err == nil && m["event"] == "join" && m["userId"] == c.user("pb") {
		got = append(got, "join")
	}
	closeAll(b)
	if m, err := c.nextOfType(a, "presence"); err == nil && m["event"] == "leave" && m["userId"] == c.user("pb") {
		got = append(got, "leave")
	}
	return strings.Join(got, " "), nil
}

func (c *checker) isolation(ctx context.Context) (string, error) {
	org, other := c.org("iso"), c.org("iso-other")
	a, err := c.open(ctx, c.user("ia"), org)
	if err != nil {
		return "", err
	}
	b, err := c.open(ctx, c.user("ib"), org)
	if err != nil {
		return "", err
	}
	x, err := c.open(ctx, c.user("ix"), other)
	if err != nil {
		return "", err
	}
	defer closeAll(a, b, x)
	if err := a.WriteMessage(websocket.TextMessage, []byte(`{"type":"broadcast","data":"secret"}`)); err != nil {
		return "", err
	}
	var got []string
	if m, err := c.nextOfType(b, "message"); err == nil && m["data"] == "secret" && m["from"] == c.user("ia") {
		got = append(got, "delivered")
	}
	// x's next frame must be the answer to its own ping, not the other org's broadcast.
	if err := x.WriteMessage(websocket.TextMessage, []byte("ping")); err != nil {
		return "", err
	}
	if m, err := ReadJSON(x, c.cfg.Timeout); err == nil && m["raw"] == "pong" {
		got = append(got, "isolated")
	}
	return strings.Join(got, " "), nil
}

func (c *checker) direct(ctx context.Context) (string, error) {
	org := c.org("direct")
	a, err := c.open(ctx, c.user("da"), org)
	if err != nil {
		return "", err
	}
	b, err := c.open(ctx, c.user("db"), org)
	if err != nil {
		return "", err
	}
	defer closeAll(a, b)
	msg := fmt.Sprintf(`{"type":"direct","to":%q,"data":"psst"}`, c.user("da"))
	if err := b.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		return "", err
	}
	m, err := c.nextOfType(a, "message")
	if err != nil {
		return "", err
	}
	if m["direct"] == true && m["data"] == "psst" {
		return "direct", nil
	}
	return fmt.Sprint(m), nil
}

func (c *checker) post(ctx context.Context, org, token, body string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.httpBase+"/orgs/"+org+"/publish", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	status, m, err := c.send(req)
	if err != nil {
		return "", err
	}
	if status == 200 {
		return fmt.Sprintf("200 delivered=%v", m["delivered"]), nil
	}
	return fmt.Sprintf("%d %v", status, m["error"]), nil
}

func (c *checker) publish(ctx context.Context) (string, error) {
	org := c.org("pub")
	a, err := c.open(ctx, c.user("pa"), org)
	if err != nil {
		return "", err
	}
	defer closeAll(a)
	claims := c.publishClaims(org)
	got, err := c.post(ctx, org, Craft(c.cfg.Key, RS256Header(c.cfg.Key), claims), `{"data":{"kind":"invoice.paid"}}`)
	if err != nil || !strings.HasPrefix(got, "200") {
		return got, err
	}
	if m, err := c.nextOfType(a, "event"); err == nil {
		if d, ok := m["data"].(map[string]any); ok && d["kind"] == "invoice.paid" {
			got += " event"
		}
	}
	return got, nil
}

func (c *checker) oversized(ctx context.Context) (string, error) {
	a, err := c.open(ctx, c.user("big"), c.org("big"))
	if err != nil {
		return "", err
	}
	defer a.Close()
	_ = a.WriteMessage(websocket.TextMessage, []byte(`{"type":"broadcast","data":"`+strings.Repeat("x", 70<<10)+`"}`))
	_ = a.SetReadDeadline(time.Now().Add(c.cfg.Timeout))
	for {
		if _, _, err := a.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return fmt.Sprintf("close %d", ce.Code), nil
			}
			return "", err
		}
	}
}

func (c *checker) badMessage(ctx context.Context) (string, error) {
	a, err := c.open(ctx, c.user("bad"), c.org("bad"))
	if err != nil {
		return "", err
	}
	defer closeAll(a)
	if err := a.WriteMessage(websocket.TextMessage, []byte("not json")); err != nil {
		return "", err
	}
	m, err := ReadJSON(a, c.cfg.Timeout)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%v %v", m["type"], m["code"]), nil
}
