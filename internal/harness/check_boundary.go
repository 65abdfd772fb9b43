package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/qubital/office-router/internal/rsakey"
)

// Cases of issue 13 ("one security boundary"): what the main path guarantees must hold on every
// path, in the Worker, the hub and the forwarder alike. The full publish-body contract is in
// testdata/vectors/publish.json (run by each twin's unit tests); these are its sharpest cases.
func (c *checker) boundaryCases() []checkCase {
	x := c.org("x")
	kid := rsakey.Thumbprint(&c.cfg.Key.PublicKey)
	nullHeader := func(name string) string {
		return Craft(c.cfg.Key, map[string]any{"alg": "RS256", "typ": "JWT", "kid": kid, name: nil}, c.claimsFor(c.user("x"), x))
	}
	list := []checkCase{
		// Item 7. An unparseable percent-escape is a route that does not exist. Go's HTTP/1.1
		// server refuses such a request-target itself (400, before any handler), as workerd
		// answers some malformed upgrades itself, so the verdict is "refused, never 5xx"; the
		// Worker's unit tests pin its exact answer, 404 not_found.
		{"bad_percent_encoding_ws", "refused before routing", c.rawPath(http.MethodGet, "/orgs/%E0%A4%A/ws")},
		{"bad_percent_encoding_publish", "refused before routing", c.rawPath(http.MethodPost, "/orgs/%ZZ/publish")},
		// Item 6. Presence is the rule: a null member is still there.
		{"crit_null_header", "401 malformed", c.reject(x, nullHeader("crit"))},
		{"jku_null_header", "401 malformed", c.reject(x, nullHeader("jku"))},
		{"x5c_null_header", "401 malformed", c.reject(x, nullHeader("x5c"))},
		// Item 9. The limits of every router, with their defaults.
		{"too_many_connections_per_user", "429 too_many_connections", c.userCap},
		{"message_flood", "close 1008", c.flood},
	}
	// Item 2. Publish bodies: exactly {"to"?: <user id>, "data": <any>}.
	for _, p := range []struct{ name, body, want string }{
		{"publish_to_null", `{"to":null,"data":"private"}`, "400 bad_request"},
		{"publish_to_not_string", `{"to":42,"data":1}`, "400 bad_request"},
		{"publish_to_invalid_id", `{"to":"u carol","data":1}`, "400 bad_request"},
		{"publish_case_variant_keys", `{"TO":"%s","DATA":1}`, "400 bad_request"},
		{"publish_unknown_key", `{"data":1,"extra":true}`, "400 bad_request"},
		{"publish_to_and_TO", `{"to":"%s","TO":null,"data":1}`, "400 bad_request"},
		{"publish_duplicate_data", `{"data":1,"data":2}`, "400 bad_request"},
		{"publish_missing_data", `{"to":"%s"}`, "400 bad_request"},
		{"publish_not_object", `[{"data":1}]`, "400 bad_request"},
		{"publish_trailing_garbage", `{"data":1}x`, "400 bad_request"},
		{"publish_bom", "\ufeff{\"data\":1}", "400 bad_request"},
		{"publish_data_null_to_user", `{"to":"%s","data":null}`, "200 delivered=1 event null"},
	} {
		list = append(list, checkCase{p.name, p.want, c.publishBody(p.body)})
	}
	// Single-use holds for publish tokens too.
	list = append(list, checkCase{"publish_token_single_use", "200 401 replayed", func(ctx context.Context) (string, error) {
		org := c.org("pubonce")
		tok := Craft(c.cfg.Key, RS256Header(c.cfg.Key), c.publishClaims(org))
		first, err := c.post(ctx, org, tok, `{"data":1}`)
		if err != nil {
			return "", err
		}
		second, err := c.post(ctx, org, tok, `{"data":1}`)
		return strings.Fields(first)[0] + " " + second, err
	}})
	return list
}

// rawPath sends method to path exactly as written (url.URL would refuse a bad escape).
func (c *checker) rawPath(method, path string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		req, err := c.requestTo(ctx, method, path, strings.NewReader(`{"data":1}`))
		if err != nil {
			return "", err
		}
		req.Header.Set("Authorization", "Bearer "+c.craft())
		status, body, err := c.send(req)
		if err != nil {
			return "", err
		}
		switch {
		case status == 404 && body["error"] == "not_found", status == 400:
			return "refused before routing", nil
		}
		return fmt.Sprintf("%d %v", status, body["error"]), nil
	}
}

// publishBody posts body (%s is replaced by the id of the one user online in the org) and
// reports the answer, and for a delivery the data the user received.
func (c *checker) publishBody(body string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		org, user := c.org("pubv"), c.user("pv")
		a, err := c.open(ctx, user, org)
		if err != nil {
			return "", err
		}
		defer closeAll(a)
		b := body
		if strings.Contains(b, "%s") {
			b = fmt.Sprintf(b, user)
		}
		claims := c.publishClaims(org)
		got, err := c.post(ctx, org, Craft(c.cfg.Key, RS256Header(c.cfg.Key), claims), b)
		if err != nil || !strings.HasPrefix(got, "200") {
			return got, err
		}
		m, err := c.nextOfType(a, "event")
		if err != nil {
			return got + " no event", nil
		}
		d, _ := json.Marshal(m["data"])
		return got + " event " + string(d), nil
	}
}

// userCap opens MAX_CONNS_PER_USER (16, the default of every router) sockets for one user and
// reports how the next one is answered.
func (c *checker) userCap(ctx context.Context) (string, error) {
	const perUser = 16
	org, user := c.org("cap"), c.user("cap")
	var conns []*websocket.Conn
	defer func() { closeAll(conns...) }()
	for i := range perUser {
		conn, err := c.open(ctx, user, org)
		if err != nil {
			return fmt.Sprintf("socket %d of %d: %v", i+1, perUser, err), nil
		}
		conns = append(conns, conn)
	}
	return c.handshake(ctx, org, Craft(c.cfg.Key, RS256Header(c.cfg.Key), c.claimsFor(user, org)), InHeader, nil)
}

// flood sends 400 messages at once, four times MESSAGE_BURST (100) at MESSAGES_PER_SECOND 50,
// and reports the close code.
func (c *checker) flood(ctx context.Context) (string, error) {
	a, err := c.open(ctx, c.user("flood"), c.org("flood"))
	if err != nil {
		return "", err
	}
	defer a.Close()
	for range 400 {
		if a.WriteMessage(websocket.TextMessage, []byte(`{"type":"broadcast","data":"f"}`)) != nil {
			break // closed under us: read the close frame below
		}
	}
	_ = a.SetReadDeadline(time.Now().Add(c.cfg.Timeout))
	for {
		if _, _, err := a.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return fmt.Sprintf("close %d", ce.Code), nil
			}
			return "no close frame: " + err.Error(), nil
		}
	}
}
