package main

import "net/http"

// demoRoutes serves the browser demo (client/) from the issuer's origin; see issue 7.
func demoRoutes(root, issuerAddr string, workerPort int, proxyAddr string, noWorker bool) map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{}
}
