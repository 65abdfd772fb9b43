package verifier

// The shared conformance vectors; see testdata/keys/README.md.
//go:generate go run ../internal/cmd/genvectors -keys ../testdata/keys -out ../testdata/vectors/handshake.json
