// Package httpxtest holds what the edges' tests share to pin HTTP answers byte for byte: RawAnswer
// sends one request with an exact request-target over a real socket and renders the answer as
// one comparable line. Start with RawAnswer; proxy/routes_test.go and issuer/routes_test.go use it.
package httpxtest
