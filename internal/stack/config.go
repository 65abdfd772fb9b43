package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// wranglerConfig is the part of wrangler.jsonc the stack needs: which names are vars and which
// are declared secrets, at the top level and in every named environment.
type wranglerConfig struct {
	Vars    map[string]json.RawMessage `json:"vars"`
	Secrets struct {
		Required []string `json:"required"`
	} `json:"secrets"`
	Env map[string]struct {
		Vars    map[string]json.RawMessage `json:"vars"`
		Secrets struct {
			Required []string `json:"required"`
		} `json:"secrets"`
	} `json:"env"`
}

// readWranglerConfig reads root/wrangler.jsonc (JSON with // and /* */ comments).
func readWranglerConfig(root string) (wranglerConfig, error) {
	var c wranglerConfig
	raw, err := os.ReadFile(filepath.Join(root, "wrangler.jsonc"))
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(stripJSONComments(raw), &c); err != nil {
		return c, fmt.Errorf("wrangler.jsonc: %w", err)
	}
	return c, nil
}

// secretNames are the declared secrets of every environment.
func (c wranglerConfig) secretNames() []string {
	names := slices.Clone(c.Secrets.Required)
	for _, e := range c.Env {
		names = append(names, e.Secrets.Required...)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// bindingNames are every var and secret name of every environment.
func (c wranglerConfig) bindingNames() []string {
	names := c.secretNames()
	for k := range c.Vars {
		names = append(names, k)
	}
	for _, e := range c.Env {
		for k := range e.Vars {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// stripJSONComments blanks out what JSONC adds to JSON outside strings: // and /* */ comments
// and trailing commas, keeping offsets (and so json's error positions) intact.
func stripJSONComments(b []byte) []byte {
	out := slices.Clone(b)
	inString, escaped := false, false
	for i := 0; i < len(out); i++ {
		ch := out[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case ch == '\\':
				escaped = true
			case ch == '"':
				inString = false
			}
		case ch == '"':
			inString = true
		case ch == ',':
			if j := nextSignificant(out, i+1); j < len(out) && (out[j] == '}' || out[j] == ']') {
				out[i] = ' '
			}
		case ch == '/' && i+1 < len(out) && out[i+1] == '/':
			for ; i < len(out) && out[i] != '\n'; i++ {
				out[i] = ' '
			}
		case ch == '/' && i+1 < len(out) && out[i+1] == '*':
			for ; i < len(out) && !(out[i] == '*' && i+1 < len(out) && out[i+1] == '/'); i++ {
				if out[i] != '\n' {
					out[i] = ' '
				}
			}
			if i+1 < len(out) {
				out[i], out[i+1] = ' ', ' '
				i++
			}
		}
	}
	return out
}

// nextSignificant is the index of the first byte from i on that is not whitespace or inside a
// comment (len(b) if none).
func nextSignificant(b []byte, i int) int {
	for i < len(b) {
		switch {
		case b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r':
			i++
		case b[i] == '/' && i+1 < len(b) && b[i+1] == '/':
			for i < len(b) && b[i] != '\n' {
				i++
			}
		case b[i] == '/' && i+1 < len(b) && b[i+1] == '*':
			i += 2
			for i+1 < len(b) && !(b[i] == '*' && b[i+1] == '/') {
				i++
			}
			i += 2
		default:
			return i
		}
	}
	return len(b)
}
