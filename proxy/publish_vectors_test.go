package proxy_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/qubital/office-router/proxy"
)

// publishVectors is testdata/vectors/publish.json (format: testdata/vectors/README.md).
type publishVectors struct {
	Org    string   `json:"org"`
	Online []string `json:"online"`
	Cases  []struct {
		Name       string `json:"name"`
		Body       string `json:"body"`
		BodyBase64 string `json:"bodyBase64"`
		Want       struct {
			Status  int             `json:"status"`
			Error   string          `json:"error"`
			Deliver string          `json:"deliver"`
			To      string          `json:"to"`
			Data    json.RawMessage `json:"data"`
		} `json:"want"`
	} `json:"cases"`
}

// TestPublishVectors runs every shared publish-body case through the hub and through a
// forwarder in front of a hub, and checks the answer and who received the event.
func TestPublishVectors(t *testing.T) {
	raw, err := os.ReadFile("../testdata/vectors/publish.json")
	if err != nil {
		t.Fatal(err)
	}
	var vf publishVectors
	if err := json.Unmarshal(raw, &vf); err != nil {
		t.Fatal(err)
	}
	if len(vf.Cases) < 50 {
		t.Fatalf("only %d publish vectors", len(vf.Cases))
	}
	for _, mode := range []string{"hub", "forward"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, proxy.Config{})
			edge := e
			if mode == "forward" {
				edge = newEnv(t, proxy.Config{Upstream: e.wsURL, ForwardToken: true})
			}
			clients := make(map[string]*wsClient, len(vf.Online))
			for _, u := range vf.Online {
				clients[u] = edge.dial(u, vf.Org)
			}
			// Publish tokens are single-use: a fresh one for every request.
			auth := func() http.Header { return http.Header{"Authorization": {"Bearer " + mustPublish(t, edge, vf.Org)}} }
			// drain reads each socket up to the sentinel event and returns the events before it.
			sentinel := 0
			drain := func() map[string][]json.RawMessage {
				t.Helper()
				sentinel++
				mark, _ := json.Marshal(map[string]int{"sentinel": sentinel})
				if status, _, m := edge.do("POST", "/orgs/"+vf.Org+"/publish", auth(), `{"data":`+string(mark)+`}`); status != 200 {
					t.Fatalf("sentinel publish: %d %v", status, m)
				}
				got := make(map[string][]json.RawMessage)
				for u, c := range clients {
					for {
						_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
						_, frame, err := c.conn.ReadMessage()
						if err != nil {
							t.Fatalf("%s: %v", u, err)
						}
						var ev struct {
							Type string          `json:"type"`
							Data json.RawMessage `json:"data"`
						}
						if err := json.Unmarshal(frame, &ev); err != nil {
							t.Fatalf("%s: frame %s: %v", u, frame, err)
						}
						if ev.Type != "event" {
							continue // welcome, presence
						}
						if bytes.Equal(ev.Data, mark) {
							break
						}
						got[u] = append(got[u], ev.Data)
					}
				}
				return got
			}
			drain()
			for _, c := range vf.Cases {
				body := []byte(c.Body)
				if c.BodyBase64 != "" {
					if body, err = base64.StdEncoding.DecodeString(c.BodyBase64); err != nil {
						t.Fatalf("%s: %v", c.Name, err)
					}
				}
				status, _, m := edge.do("POST", "/orgs/"+vf.Org+"/publish", auth(), string(body))
				got := drain()
				if status != c.Want.Status {
					t.Errorf("%s: status %d %v, want %d", c.Name, status, m, c.Want.Status)
					continue
				}
				if c.Want.Status != 200 {
					if m["error"] != c.Want.Error || len(m) != 1 {
						t.Errorf("%s: body %v, want error %q", c.Name, m, c.Want.Error)
					}
					if len(got) != 0 {
						t.Errorf("%s: refused body was delivered: %v", c.Name, got)
					}
					continue
				}
				var want any
				_ = json.Unmarshal(c.Want.Data, &want)
				delivered := 0
				for _, u := range vf.Online {
					shouldGet := c.Want.Deliver == "org" || c.Want.To == u
					switch {
					case !shouldGet && len(got[u]) != 0:
						t.Errorf("%s: %s received %s", c.Name, u, got[u])
					case shouldGet && len(got[u]) != 1:
						t.Errorf("%s: %s received %d events, want 1", c.Name, u, len(got[u]))
					case shouldGet:
						delivered++
						var have any
						_ = json.Unmarshal(got[u][0], &have)
						if !reflect.DeepEqual(have, want) {
							t.Errorf("%s: %s received data %s, want %s", c.Name, u, got[u][0], c.Want.Data)
						}
					}
				}
				if m["delivered"] != float64(delivered) {
					t.Errorf("%s: delivered %v, want %d", c.Name, m["delivered"], delivered)
				}
			}
		})
	}
}
