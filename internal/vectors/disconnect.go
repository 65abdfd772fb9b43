package vectors

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
)

// DisconnectFile is testdata/vectors/disconnect.json (hand-written; format in
// testdata/vectors/README.md): bodies of POST /orgs/{orgId}/disconnect and the answer both
// routers must give with one socket per Online user open in Org.
type DisconnectFile struct {
	Comment string           `json:"comment"`
	Org     string           `json:"org"`
	Online  []string         `json:"online"`
	Cases   []DisconnectCase `json:"cases"`
}

// DisconnectCase is one body and its verdict.
type DisconnectCase struct {
	Name       string         `json:"name"`
	Body       string         `json:"body,omitempty"`
	BodyBase64 string         `json:"bodyBase64,omitempty"`
	Want       DisconnectWant `json:"want"`
}

// DisconnectWant is 200 with what the body asks for and how many sockets it closed, or 400
// bad_request.
type DisconnectWant struct {
	Status       int    `json:"status"`
	Error        string `json:"error,omitempty"`
	UserID       string `json:"userId,omitempty"`
	Code         int    `json:"code,omitempty"`
	BlockSeconds int    `json:"blockSeconds"`
	Disconnected int    `json:"disconnected"`
}

// Bytes is the case's raw request body.
func (c DisconnectCase) Bytes() ([]byte, error) {
	if c.BodyBase64 != "" {
		return base64.StdEncoding.DecodeString(c.BodyBase64)
	}
	return []byte(c.Body), nil
}

// LoadDisconnect reads a disconnect vectors file.
func LoadDisconnect(path string) (*DisconnectFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f DisconnectFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &f, nil
}
