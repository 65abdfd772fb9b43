package verifier

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A strict, small JSON reader for JWT headers and payloads. encoding/json is lenient where a
// token verifier must not be: it merges duplicate keys (even case-insensitively into structs),
// replaces invalid UTF-8 silently and loses the difference between 1 and 1.0. The Worker has the
// same reader in worker/src/json.ts; the grammar is RFC 8259 plus the rules in docs/reason-codes.md.

// maxDepth bounds nesting so that a hostile payload cannot recurse deeply; same in the Worker.
const maxDepth = 32

var errJSON = errors.New("invalid JSON")

type kind uint8

const (
	kindString kind = iota + 1
	kindNumber
	kindObject
	kindArray
	kindTrue
	kindFalse
	kindNull
)

type member struct {
	key []byte // raw key bytes between the quotes (still escaped)
	val []byte // raw value bytes
	k   kind
}

// object is the top level of a header or payload. Most tokens have fewer than 16 members, so
// they live in the inline array and parsing does not allocate.
type object struct {
	inline [16]member
	m      []member
}

func (o *object) get(name string) (member, bool) {
	for i := range o.m {
		if keyEquals(o.m[i].key, name) {
			return o.m[i], true
		}
	}
	return member{}, false
}

// present treats JSON null as absent, in both implementations.
func (o *object) present(name string) (member, bool) {
	m, ok := o.get(name)
	if !ok || m.k == kindNull {
		return member{}, false
	}
	return m, true
}

// keyEquals compares a raw (possibly escaped) key with a plain ASCII name.
func keyEquals(raw []byte, name string) bool {
	if len(raw) == len(name) && string(raw) == name {
		return true
	}
	for _, c := range raw {
		if c == '\\' {
			s, ok := decodeString(raw)
			return ok && s == name
		}
	}
	return false
}

type parser struct {
	b []byte
	i int
}

// parseTopObject parses b, which must be exactly one JSON object, into o.
func parseTopObject(b []byte, o *object) error {
	if !utf8.Valid(b) {
		return errJSON
	}
	p := parser{b: b}
	p.ws()
	o.m = o.inline[:0]
	if err := p.object(0, o); err != nil {
		return err
	}
	p.ws()
	if p.i != len(p.b) {
		return errJSON
	}
	return nil
}

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// smallObject is how many keys an object's duplicate check scans linearly; past it the check
// switches to a set of folded keys. A 64 KiB publish body holds some 8,000 distinct keys: compared
// pairwise that took seconds of CPU per request, before its publish token was even spent.
const smallObject = 16

// keySet finds duplicate keys, compared after decoding and ASCII case folding (sameKey). Small
// objects, every token among them, are scanned in place without allocating; larger ones use a map.
type keySet struct {
	inline [smallObject][]byte
	n      int
	big    map[string]struct{}
}

// add records key and reports false when the object already has it.
func (s *keySet) add(key []byte) bool {
	if s.big == nil {
		for _, o := range s.inline[:s.n] {
			if sameKey(o, key) {
				return false
			}
		}
		if s.n < smallObject {
			s.inline[s.n] = key
			s.n++
			return true
		}
		s.big = make(map[string]struct{}, 4*smallObject)
		for _, o := range s.inline[:s.n] {
			s.big[foldedKey(o)] = struct{}{}
		}
	}
	f := foldedKey(key)
	if _, dup := s.big[f]; dup {
		return false
	}
	s.big[f] = struct{}{}
	return true
}

// foldedKey is a raw key decoded and ASCII-lowercased: two keys are sameKey exactly when their
// foldedKeys are equal.
func foldedKey(raw []byte) string {
	d, _ := decodeString(raw)
	b := []byte(d)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// object parses an object; top receives its members when non-nil. Duplicate keys are refused
// at every depth, compared after decoding and ASCII case folding.
func (p *parser) object(depth int, top *object) error {
	if depth >= maxDepth || p.i >= len(p.b) || p.b[p.i] != '{' {
		return errJSON
	}
	p.i++
	var keys keySet
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return nil
	}
	for {
		p.ws()
		start := p.i
		if err := p.str(); err != nil {
			return err
		}
		key := p.b[start+1 : p.i-1]
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return errJSON
		}
		p.i++
		p.ws()
		vstart := p.i
		k, err := p.value(depth + 1)
		if err != nil {
			return err
		}
		if !keys.add(key) {
			return errJSON
		}
		if top != nil {
			top.m = append(top.m, member{key: key, val: p.b[vstart:p.i], k: k})
		}
		p.ws()
		if p.i >= len(p.b) {
			return errJSON
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return errJSON
		}
	}
}

func (p *parser) array(depth int) error {
	if depth >= maxDepth {
		return errJSON
	}
	p.i++ // '['
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return nil
	}
	for {
		p.ws()
		if _, err := p.value(depth + 1); err != nil {
			return err
		}
		p.ws()
		if p.i >= len(p.b) {
			return errJSON
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return nil
		default:
			return errJSON
		}
	}
}

func (p *parser) value(depth int) (kind, error) {
	if p.i >= len(p.b) {
		return 0, errJSON
	}
	switch c := p.b[p.i]; {
	case c == '"':
		return kindString, p.str()
	case c == '{':
		return kindObject, p.object(depth, nil)
	case c == '[':
		return kindArray, p.array(depth)
	case c == 't':
		return kindTrue, p.lit("true")
	case c == 'f':
		return kindFalse, p.lit("false")
	case c == 'n':
		return kindNull, p.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return kindNumber, p.num()
	}
	return 0, errJSON
}

func (p *parser) lit(s string) error {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return errJSON
	}
	p.i += len(s)
	return nil
}

func (p *parser) digits() int {
	n := 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}

func (p *parser) num() error {
	if p.b[p.i] == '-' {
		p.i++
	}
	if p.i >= len(p.b) {
		return errJSON
	}
	if p.b[p.i] == '0' {
		p.i++
	} else if p.digits() == 0 {
		return errJSON
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if p.digits() == 0 {
			return errJSON
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return errJSON
		}
	}
	return nil
}

// str consumes a string token, checking escapes and refusing raw control characters.
func (p *parser) str() error {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return errJSON
	}
	p.i++
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return nil
		case c < 0x20:
			return errJSON
		case c == '\\':
			p.i++
			if p.i >= len(p.b) {
				return errJSON
			}
			switch p.b[p.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i++
			case 'u':
				if len(p.b)-p.i < 5 || !isHex4(p.b[p.i+1:p.i+5]) {
					return errJSON
				}
				p.i += 5
			default:
				return errJSON
			}
		default:
			p.i++
		}
	}
	return errJSON
}

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// sameKey reports whether two raw keys name the same member after decoding and ASCII case
// folding: {"sub":..,"SUB":..} and {"sub":..,"s\u0075b":..} are both duplicates.
func sameKey(a, b []byte) bool {
	if hasBackslash(a) || hasBackslash(b) {
		da, _ := decodeString(a)
		db, _ := decodeString(b)
		return asciiFoldEqual(da, db)
	}
	return asciiFoldEqual(string(a), string(b))
}

func hasBackslash(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}

func asciiFoldEqual(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// decodeString decodes the inside of an already validated string token. Lone surrogates become
// U+FFFD; they can never satisfy a claim's format, so both implementations reject them alike.
func decodeString(raw []byte) (string, bool) {
	if !hasBackslash(raw) {
		return string(raw), true
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(raw) {
			return "", false
		}
		switch raw[i] {
		case '"', '\\', '/':
			out = append(out, raw[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if i+5 > len(raw) {
				return "", false
			}
			r1, err := strconv.ParseUint(string(raw[i+1:i+5]), 16, 16)
			if err != nil {
				return "", false
			}
			i += 4
			r := rune(r1)
			if utf16.IsSurrogate(r) {
				if i+7 <= len(raw) {
					if raw[i+1] == '\\' && raw[i+2] == 'u' {
						if r2, err := strconv.ParseUint(string(raw[i+3:i+7]), 16, 16); err == nil {
							if d := utf16.DecodeRune(r, rune(r2)); d != utf8.RuneError {
								out = utf8.AppendRune(out, d)
								i += 6
								continue
							}
						}
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", false
		}
	}
	return string(out), true
}
