package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
)

// demoRoutes serves the browser demo (client/demo) and the client module (client/dist) from the
// issuer's origin, so the page's calls to /dev/session and request-access are same-origin.
func demoRoutes(root, issuerAddr string, workerPort int, proxyAddr string, noWorker bool) map[string]http.HandlerFunc {
	file := func(rel, contentType string) http.HandlerFunc {
		path := filepath.Join(root, rel)
		return func(w http.ResponseWriter, r *http.Request) {
			b, err := os.ReadFile(path)
			if err != nil {
				http.Error(w, "missing "+rel, http.StatusNotFound)
				return
			}
			w.Header().Set("Content-Type", contentType)
			w.Header().Set("Cache-Control", "no-store")
			_, _ = w.Write(b)
		}
	}
	type router struct {
		Name string `json:"name"`
		URL  string `json:"url"`
	}
	var routers []router // the issuer's default router first
	if !noWorker {
		routers = append(routers, router{"worker", fmt.Sprintf("ws://127.0.0.1:%d", workerPort)})
	}
	routers = append(routers, router{"proxy", "ws://" + proxyAddr})
	cfg, _ := json.Marshal(map[string]any{"routers": routers})
	return map[string]http.HandlerFunc{
		"/":                               file("client/demo/index.html", "text/html; charset=utf-8"),
		"/demo.js":                        file("client/demo/demo.js", "text/javascript; charset=utf-8"),
		"/client/office-router-client.js": file("client/dist/office-router-client.js", "text/javascript; charset=utf-8"),
		"/demo/config.json": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(cfg)
		},
	}
}
