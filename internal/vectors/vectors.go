// Package vectors generates and loads the handshake conformance vectors shared by the Go
// verifier and the Worker (testdata/vectors/handshake.json). Every case is deterministic
// (RSASSA-PKCS1-v1_5 signatures are), so regenerating gives the same file byte for byte.
package vectors

import (
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/qubital/office-router/contract"
	"github.com/qubital/office-router/internal/rsakey"
)

// File is the JSON document in testdata/vectors/handshake.json.
type File struct {
	Comment string `json:"comment"`
	Config  Config `json:"config"`
	Cases   []Case `json:"cases"`
}

// Config is the router configuration every case runs under.
type Config struct {
	Issuer        string `json:"issuer"`
	Audience      string `json:"audience"`
	LeewaySeconds int    `json:"leewaySeconds"`
	MaxTTLSeconds int    `json:"maxTtlSeconds"`
	PublicKeys    string `json:"publicKeys"`
}

// Case is one token and the verdict both implementations must reach.
type Case struct {
	Name string `json:"name"`
	// Kind is "handshake" (a socket's token), or the service route the token is presented to,
	// named by its scope: "publish", "presence" or "disconnect".
	Kind     string    `json:"kind"`
	Now      int64     `json:"now"`
	Token    string    `json:"token"`
	Want     string    `json:"want"` // "ok" or a reason code
	Identity *Identity `json:"identity,omitempty"`
}

// Identity is the expected result of an accepted case.
type Identity struct {
	UserID    string `json:"userId,omitempty"`
	OrgID     string `json:"orgId"`
	Role      string `json:"role,omitempty"`
	Subject   string `json:"sub"`
	JTI       string `json:"jti"`
	ExpiresAt int64  `json:"expiresAt"`
}

// Load reads a vectors file.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &f, nil
}

// Marshal renders f exactly as the committed file.
func Marshal(f *File) ([]byte, error) {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

const (
	now      = int64(1767225600) // 2026-01-01T00:00:00Z
	issuer   = "https://issuer.office-router.test"
	audience = "office-router"
)

type keys struct {
	a, b, foreign *rsa.PrivateKey
	weak          *rsa.PrivateKey
}

func loadKeys(dir string) (*keys, error) {
	var k keys
	for name, dst := range map[string]**rsa.PrivateKey{
		"test-only-a.pem": &k.a, "test-only-b.pem": &k.b, "test-only-foreign.pem": &k.foreign,
		"test-only-weak-1024.pem": &k.weak,
	} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		block, _ := pem.Decode(b)
		if block == nil {
			return nil, fmt.Errorf("%s: no PEM", name)
		}
		key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		*dst = key.(*rsa.PrivateKey)
	}
	return &k, nil
}

func enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func signRS256(key *rsa.PrivateKey, signingInput string) string {
	sig, err := rsakey.SignRS256(key, signingInput)
	if err != nil {
		panic(err) // generator only: keys are fixed test keys
	}
	return sig
}

// raw signs arbitrary header and payload JSON text.
func raw(key *rsa.PrivateKey, header, payload string) string {
	in := enc(header) + "." + enc(payload)
	return in + "." + signRS256(key, in)
}

func hdr(key *rsa.PrivateKey) string {
	return `{"alg":"RS256","kid":"` + rsakey.Thumbprint(&key.PublicKey) + `","typ":"JWT"}`
}

// claims is an ordered claim set; json.Marshal of a map sorts keys, which keeps output stable.
type claims map[string]any

func base(jti string) claims {
	return claims(contract.HandshakeClaims{Issuer: issuer, Audience: audience, UserID: "user_01", OrgID: "org_01",
		Role: "member", JTI: jti, IssuedAt: now, NotBefore: now, ExpiresAt: now + 60}.Map())
}

func (c claims) with(kv ...any) claims {
	out := claims{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == del {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

type deleted struct{}

var del = deleted{}

func (c claims) json() string {
	b, err := json.Marshal(map[string]any(c))
	if err != nil {
		panic(err)
	}
	return string(b)
}

func ok(name string, token string, c claims) Case {
	id := &Identity{OrgID: c["orgId"].(string), Subject: c["sub"].(string), JTI: c["jti"].(string), ExpiresAt: c["exp"].(int64)}
	if u, isStr := c["userId"].(string); isStr {
		id.UserID, id.Role = u, c["role"].(string)
	}
	kind := "handshake"
	if _, has := c["scope"]; has {
		kind = "publish"
	}
	return Case{Name: name, Kind: kind, Now: now, Token: token, Want: "ok", Identity: id}
}

func bad(name, want, token string) Case {
	return Case{Name: name, Kind: "handshake", Now: now, Token: token, Want: want}
}

// padTo grows the claim set with a "pad" claim until the signed token is exactly n bytes.
func padTo(key *rsa.PrivateKey, c claims, n int) string {
	sigLen := base64.RawURLEncoding.EncodedLen(key.Size())
	for pad := 0; pad < n; pad++ {
		h, p := hdr(key), c.with("pad", strings.Repeat("x", pad)).json()
		if size := len(enc(h)) + 1 + len(enc(p)) + 1 + sigLen; size == n {
			return raw(key, h, p)
		} else if size > n {
			break
		}
	}
	panic(fmt.Sprintf("cannot pad to %d bytes", n))
}

// Generate builds the vectors from the test keys in keysDir.
func Generate(keysDir string) (*File, error) {
	k, err := loadKeys(keysDir)
	if err != nil {
		return nil, err
	}
	pubA, _ := rsakey.EncodePublicKeyPEM(&k.a.PublicKey)
	pubB, _ := rsakey.EncodePublicKeyPEM(&k.b.PublicKey)
	f := &File{
		Comment: "Generated by `go generate ./verifier` from testdata/keys (throwaway test keys). Do not edit: both the Go verifier and the Worker must reach `want` for every case. Rules: docs/reason-codes.md.",
		Config: Config{Issuer: issuer, Audience: audience, LeewaySeconds: 5, MaxTTLSeconds: 60,
			PublicKeys: string(pubA) + string(pubB)},
	}
	A := k.a
	hA := hdr(A)
	kidA := rsakey.Thumbprint(&A.PublicKey)
	sign := func(c claims) string { return raw(A, hA, c.json()) }
	withHeader := func(h string, c claims) string { return raw(A, h, c.json()) }
	b := base

	add := func(cs ...Case) { f.Cases = append(f.Cases, cs...) }

	// Accepted.
	add(
		ok("valid_key_a", sign(b("jti-valid-a")), b("jti-valid-a")),
		ok("valid_key_b_rotation", raw(k.b, hdr(k.b), b("jti-valid-b").json()), b("jti-valid-b")),
		ok("valid_aud_array", sign(b("jti-aud-array").with("aud", []string{"other", audience})), b("jti-aud-array")),
		ok("valid_without_typ", withHeader(`{"alg":"RS256","kid":"`+kidA+`"}`, b("jti-no-typ")), b("jti-no-typ")),
		ok("valid_without_nbf", sign(b("jti-no-nbf").with("nbf", del)), b("jti-no-nbf")),
		ok("valid_exp_within_leeway", sign(b("jti-exp-leeway").with("exp", now-4, "iat", now-64, "nbf", now-64)), b("jti-exp-leeway").with("exp", now-4)),
		ok("valid_exp_equals_now", sign(b("jti-exp-now").with("exp", now, "iat", now-60, "nbf", now-60)), b("jti-exp-now").with("exp", now)),
		ok("valid_iat_future_within_leeway", sign(b("jti-iat-leeway").with("iat", now+5, "nbf", now+5, "exp", now+65)), b("jti-iat-leeway").with("exp", now+65)),
		ok("valid_nbf_within_leeway", sign(b("jti-nbf-leeway").with("nbf", now+5)), b("jti-nbf-leeway")),
		ok("valid_lifetime_short", sign(b("jti-short").with("exp", now+1)), b("jti-short").with("exp", now+1)),
		ok("valid_max_size_4096", padTo(A, b("jti-max-size"), 4096), b("jti-max-size")),
		ok("valid_extra_claims", sign(b("jti-extra").with("email", "a@example.com", "meta", map[string]any{"x": []int{1, 2}})), b("jti-extra")),
		ok("valid_admin_role", sign(b("jti-admin").with("role", "admin")), b("jti-admin").with("role", "admin")),
		ok("valid_id_lengths_at_limit", sign(b(strings.Repeat("j", 128)).with("sub", strings.Repeat("u", 128), "userId", strings.Repeat("u", 128), "orgId", strings.Repeat("O", 128), "role", strings.Repeat("r", 64))),
			b(strings.Repeat("j", 128)).with("sub", strings.Repeat("u", 128), "userId", strings.Repeat("u", 128), "orgId", strings.Repeat("O", 128), "role", strings.Repeat("r", 64))),
		ok("valid_escaped_strings", raw(A, `{"alg":"RS\u0032\u0035\u0036","kid":"`+kidA+`"}`,
			`{"iss":"`+issuer+`","aud":"office\u002drouter","sub":"user\u005f01","userId":"user_01","orgId":"org_01","role":"member","iat":`+itoa(now)+`,"exp":`+itoa(now+60)+`,"jti":"jti-escaped"}`), b("jti-escaped")),
		ok("valid_json_whitespace", raw(A, " {\n \"alg\" : \"RS256\" ,\t\"kid\":\""+kidA+"\" }\r\n",
			"{ \"iss\": \""+issuer+"\", \"aud\": \""+audience+"\", \"sub\": \"user_01\", \"userId\": \"user_01\", \"orgId\": \"org_01\", \"role\": \"member\", \"iat\": "+itoa(now)+", \"exp\": "+itoa(now+60)+", \"jti\": \"jti-ws\" }"), b("jti-ws")),
		ok("valid_nbf_zero", sign(b("jti-nbf0").with("nbf", int64(0))), b("jti-nbf0")),
	)
	pub := claims(contract.PublishClaims{Issuer: issuer, Audience: audience, Subject: "backend", OrgID: "org_01",
		JTI: "svc-jti-1", IssuedAt: now, NotBefore: now, ExpiresAt: now + 60}.Map())
	add(ok("valid_publish_token", sign(pub), pub))
	f.Cases[len(f.Cases)-1].Kind = "publish"

	// Rule 1 and missing token.
	add(
		bad("missing_token_empty", "missing_token", ""),
		bad("too_large_4097", "token_too_large", padTo(A, b("jti-too-large"), 4097)),
		bad("too_large_garbage", "token_too_large", strings.Repeat("a", 5000)),
		bad("too_large_counted_in_bytes", "token_too_large", strings.Repeat("é", 2100)),
	)

	// Rule 2: shape.
	good := sign(b("jti-shape"))
	parts := strings.Split(good, ".")
	add(
		bad("malformed_one_segment", "malformed", "abc"),
		bad("malformed_two_segments", "malformed", parts[0]+"."+parts[1]),
		bad("malformed_four_segments", "malformed", good+".e30"),
		bad("malformed_empty_signature", "malformed", parts[0]+"."+parts[1]+"."),
		bad("malformed_empty_header", "malformed", "."+parts[1]+"."+parts[2]),
		bad("malformed_padding", "malformed", parts[0]+"."+parts[1]+"=."+parts[2]),
		bad("malformed_std_alphabet", "malformed", strings.NewReplacer("-", "+", "_", "/").Replace(parts[0])+"."+parts[1]+"."+strings.NewReplacer("-", "+", "_", "/").Replace(parts[2])+"+/"),
		bad("malformed_newline_in_segment", "malformed", parts[0][:10]+"\n"+parts[0][10:]+"."+parts[1]+"."+parts[2]),
		bad("malformed_non_ascii_in_token", "malformed", parts[0]+"é."+parts[1]+"."+parts[2]),
		bad("malformed_bom_before_payload", "malformed", raw(A, hA, "\ufeff"+b("jti-bom").json())),
		bad("malformed_duplicate_lone_surrogate_keys", "malformed", raw(A, hA, strings.TrimSuffix(b("jti-surkeys").json(), "}")+`,"\ud800":1,"\udc00":2}`)),
		bad("malformed_space_in_token", "malformed", parts[0]+" ."+parts[1]+"."+parts[2]),
		bad("malformed_noncanonical_base64", "malformed", parts[0]+"."+parts[1]+"."+nonCanonical(parts[2])),
		bad("malformed_bad_length_base64", "malformed", parts[0]+"."+parts[1]+"a."+parts[2]),
		bad("malformed_header_not_json", "malformed", enc("RS256")+"."+parts[1]+"."+parts[2]),
		bad("malformed_header_array", "malformed", raw(A, `["RS256"]`, b("x").json())),
		bad("malformed_payload_string", "malformed", raw(A, hA, `"hello"`)),
		bad("malformed_payload_trailing_garbage", "malformed", raw(A, hA, b("jti-trail").json()+"x")),
		bad("malformed_payload_two_objects", "malformed", raw(A, hA, b("jti-two").json()+"{}")),
		bad("malformed_trailing_comma", "malformed", raw(A, hA, strings.TrimSuffix(b("jti-comma").json(), "}")+",}")),
		bad("malformed_single_quotes", "malformed", raw(A, hA, strings.ReplaceAll(b("jti-q").json(), `"`, `'`))),
		bad("malformed_leading_zero_number", "malformed", raw(A, hA, strings.Replace(b("jti-lz").json(), `"iat":`+itoa(now), `"iat":0`+itoa(now), 1))),
		bad("malformed_invalid_utf8_payload", "malformed", raw(A, hA, strings.Replace(b("jti-utf8").json(), "member", "memb\xff\xfer", 1))),
		bad("malformed_raw_control_char", "malformed", raw(A, hA, strings.Replace(b("jti-ctl").json(), "member", "mem\x01ber", 1))),
		bad("malformed_bad_escape", "malformed", raw(A, hA, strings.Replace(b("jti-esc").json(), "member", `mem\xber`, 1))),
		bad("malformed_duplicate_claim", "malformed", raw(A, hA, strings.TrimSuffix(b("jti-dup").json(), "}")+`,"orgId":"org_02"}`)),
		bad("malformed_duplicate_claim_case", "malformed", raw(A, hA, strings.TrimSuffix(b("jti-dupcase").json(), "}")+`,"ORGID":"org_02"}`)),
		bad("malformed_duplicate_claim_escaped", "malformed", raw(A, hA, strings.TrimSuffix(b("jti-dupesc").json(), "}")+`,"org\u0049d":"org_02"}`)),
		bad("malformed_duplicate_header_alg", "malformed", raw(A, `{"alg":"none","alg":"RS256","kid":"`+kidA+`"}`, b("jti-duphdr").json())),
		bad("malformed_duplicate_nested", "malformed", raw(A, hA, strings.TrimSuffix(b("jti-dupnest").json(), "}")+`,"meta":{"a":1,"a":2}}`)),
		bad("malformed_deep_nesting", "malformed", raw(A, hA, strings.TrimSuffix(b("jti-deep").json(), "}")+`,"deep":`+strings.Repeat("[", 40)+strings.Repeat("]", 40)+`}`)),
		bad("malformed_typ_not_jwt", "malformed", withHeader(`{"alg":"RS256","kid":"`+kidA+`","typ":"at+jwt"}`, b("jti-typ"))),
		bad("malformed_crit_header", "malformed", withHeader(`{"alg":"RS256","crit":["exp"],"exp":1,"kid":"`+kidA+`"}`, b("jti-crit"))),
		bad("malformed_jku_header", "malformed", withHeader(`{"alg":"RS256","jku":"https://evil.example/jwks.json","kid":"`+kidA+`"}`, b("jti-jku"))),
		bad("malformed_x5u_header", "malformed", withHeader(`{"alg":"RS256","kid":"`+kidA+`","x5u":"https://evil.example/cert.pem"}`, b("jti-x5u"))),
		bad("malformed_embedded_jwk", "malformed", withHeader(`{"alg":"RS256","jwk":`+jwkJSON(&k.foreign.PublicKey)+`,"kid":"`+rsakey.Thumbprint(&k.foreign.PublicKey)+`"}`, b("jti-jwk"))),
		bad("malformed_x5c_header", "malformed", withHeader(`{"alg":"RS256","kid":"`+kidA+`","x5c":["MIIB"]}`, b("jti-x5c"))),
		// Presence is the rule: a null member is still present (issue 13, item 6).
		bad("malformed_crit_null", "malformed", withHeader(`{"alg":"RS256","crit":null,"kid":"`+kidA+`"}`, b("jti-crit-null"))),
		bad("malformed_jku_null", "malformed", withHeader(`{"alg":"RS256","jku":null,"kid":"`+kidA+`"}`, b("jti-jku-null"))),
		bad("malformed_x5u_null", "malformed", withHeader(`{"alg":"RS256","kid":"`+kidA+`","x5u":null}`, b("jti-x5u-null"))),
		bad("malformed_jwk_null", "malformed", withHeader(`{"alg":"RS256","jwk":null,"kid":"`+kidA+`"}`, b("jti-jwk-null"))),
		bad("malformed_x5c_null", "malformed", withHeader(`{"alg":"RS256","kid":"`+kidA+`","x5c":null}`, b("jti-x5c-null"))),
	)

	// Rule 3: header (algorithm confusion, kid tricks).
	pubPEM := string(pubA)
	hs := func(h, p, secret string) string {
		in := enc(h) + "." + enc(p)
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(in))
		return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	fakeSig := base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("s", 64)))
	add(
		bad("alg_hs256_public_key_confusion", "alg_not_allowed", hs(`{"alg":"HS256","kid":"`+kidA+`","typ":"JWT"}`, b("jti-hs").json(), pubPEM)),
		bad("alg_none_with_signature", "alg_not_allowed", enc(`{"alg":"none","kid":"`+kidA+`"}`)+"."+enc(b("jti-none").json())+"."+fakeSig),
		bad("alg_none_empty_signature", "malformed", enc(`{"alg":"none"}`)+"."+enc(b("jti-none2").json())+"."),
		bad("alg_ps256", "alg_not_allowed", enc(`{"alg":"PS256","kid":"`+kidA+`"}`)+"."+enc(b("jti-ps").json())+"."+fakeSig),
		bad("alg_es256", "alg_not_allowed", enc(`{"alg":"ES256","kid":"`+kidA+`"}`)+"."+enc(b("jti-es").json())+"."+fakeSig),
		bad("alg_rs512", "alg_not_allowed", enc(`{"alg":"RS512","kid":"`+kidA+`"}`)+"."+enc(b("jti-rs512").json())+"."+fakeSig),
		bad("alg_lowercase", "alg_not_allowed", withHeader(`{"alg":"rs256","kid":"`+kidA+`"}`, b("jti-lower"))),
		bad("alg_missing", "alg_not_allowed", withHeader(`{"kid":"`+kidA+`"}`, b("jti-noalg"))),
		bad("alg_array", "alg_not_allowed", withHeader(`{"alg":["RS256"],"kid":"`+kidA+`"}`, b("jti-algarr"))),
		bad("alg_null", "alg_not_allowed", withHeader(`{"alg":null,"kid":"`+kidA+`"}`, b("jti-algnull"))),
		bad("kid_missing", "missing_kid", withHeader(`{"alg":"RS256","typ":"JWT"}`, b("jti-nokid"))),
		bad("kid_empty", "missing_kid", withHeader(`{"alg":"RS256","kid":""}`, b("jti-kidempty"))),
		bad("kid_number", "missing_kid", withHeader(`{"alg":"RS256","kid":42}`, b("jti-kidnum"))),
		bad("kid_unknown", "unknown_kid", withHeader(`{"alg":"RS256","kid":"no-such-key"}`, b("jti-kidunk"))),
		bad("kid_path_traversal", "unknown_kid", withHeader(`{"alg":"RS256","kid":"../../dev/null"}`, b("jti-kidpath"))),
		bad("kid_foreign_key", "unknown_kid", raw(k.foreign, hdr(k.foreign), b("jti-foreign").json())),
		bad("kid_weak_1024_key", "unknown_kid", raw(k.weak, hdr(k.weak), b("jti-weak").json())),
	)

	// Rule 4: signature.
	tampered := strings.Split(sign(b("jti-tamper")), ".")
	other := strings.Split(sign(b("jti-other")), ".")
	add(
		bad("sig_foreign_key_with_known_kid", "bad_signature", raw(k.foreign, hA, b("jti-forged").json())),
		bad("sig_key_a_under_kid_b", "bad_signature", raw(A, hdr(k.b), b("jti-swap").json())),
		bad("sig_payload_tampered", "bad_signature", tampered[0]+"."+enc(b("jti-tamper").with("role", "admin").json())+"."+tampered[2]),
		bad("sig_from_other_token", "bad_signature", tampered[0]+"."+tampered[1]+"."+other[2]),
		bad("sig_truncated", "bad_signature", tampered[0]+"."+tampered[1]+"."+truncate(tampered[2], 3)),
		bad("sig_weak_key_under_kid_a", "bad_signature", raw(k.weak, hA, b("jti-weak-a").json())),
	)

	// Rule 5: claims.
	add(
		bad("exp_at_leeway_edge", "expired", sign(b("jti-exp-edge").with("exp", now-5, "iat", now-65, "nbf", now-65))),
		bad("exp_long_ago", "expired", sign(b("jti-exp-old").with("exp", now-3600, "iat", now-3660, "nbf", now-3660))),
		bad("nbf_after_leeway", "not_yet_valid", sign(b("jti-nbf").with("nbf", now+6))),
		bad("iat_after_leeway", "issued_in_future", sign(b("jti-iat").with("iat", now+6, "nbf", del, "exp", now+66))),
		bad("lifetime_61s", "lifetime_exceeded", sign(b("jti-ttl61").with("exp", now+61))),
		bad("lifetime_one_hour", "lifetime_exceeded", sign(b("jti-ttl3600").with("exp", now+3600))),
		bad("iss_other", "wrong_issuer", sign(b("jti-iss").with("iss", "https://evil.example"))),
		bad("iss_missing", "wrong_issuer", sign(b("jti-iss-missing").with("iss", del))),
		bad("iss_array", "wrong_issuer", sign(b("jti-iss-arr").with("iss", []string{issuer}))),
		bad("iss_trailing_space", "wrong_issuer", sign(b("jti-iss-sp").with("iss", issuer+" "))),
		bad("aud_other", "wrong_audience", sign(b("jti-aud").with("aud", "other"))),
		bad("aud_missing", "wrong_audience", sign(b("jti-aud-missing").with("aud", del))),
		bad("aud_array_without", "wrong_audience", sign(b("jti-aud-arr").with("aud", []string{"a", "b"}))),
		bad("aud_array_mixed_types", "wrong_audience", sign(b("jti-aud-mixed").with("aud", []any{audience, 1}))),
		bad("aud_empty_array", "wrong_audience", sign(b("jti-aud-empty").with("aud", []string{}))),
		bad("aud_case", "wrong_audience", sign(b("jti-aud-case").with("aud", "Office-Router"))),
		bad("scope_on_handshake", "wrong_scope", sign(b("jti-scope").with("scope", "publish"))),
		bad("missing_exp", "missing_claim", sign(b("jti-noexp").with("exp", del))),
		bad("missing_iat", "missing_claim", sign(b("jti-noiat").with("iat", del))),
		bad("missing_sub", "missing_claim", sign(b("jti-nosub").with("sub", del))),
		bad("missing_userId", "missing_claim", sign(b("jti-nouser").with("userId", del))),
		bad("missing_orgId", "missing_claim", sign(b("jti-noorg").with("orgId", del))),
		bad("missing_role", "missing_claim", sign(b("jti-norole").with("role", del))),
		bad("missing_jti", "missing_claim", sign(b("x").with("jti", del))),
		bad("null_userId", "missing_claim", sign(b("jti-nulluser").with("userId", nil))),
		bad("exp_string", "invalid_claim", sign(b("jti-expstr").with("exp", itoa(now+60)))),
		bad("exp_fraction", "invalid_claim", raw(A, hA, strings.Replace(b("jti-expfrac").json(), itoa(now+60), itoa(now+60)+".5", 1))),
		bad("exp_exponent", "invalid_claim", raw(A, hA, strings.Replace(b("jti-expexp").json(), `"exp":`+itoa(now+60), `"exp":1.76722566e9`, 1))),
		bad("exp_integer_as_float", "invalid_claim", raw(A, hA, strings.Replace(b("jti-expf").json(), itoa(now+60), itoa(now+60)+".0", 1))),
		bad("exp_beyond_safe_integer", "invalid_claim", raw(A, hA, strings.Replace(b("jti-expbig").json(), `"exp":`+itoa(now+60), `"exp":90071992547409930`, 1))),
		bad("nbf_string", "invalid_claim", sign(b("jti-nbfstr").with("nbf", "now"))),
		bad("iat_bool", "invalid_claim", sign(b("jti-iatbool").with("iat", true))),
		bad("orgId_number", "invalid_claim", sign(b("jti-orgnum").with("orgId", 42))),
		bad("orgId_path_chars", "invalid_claim", sign(b("jti-orgpath").with("orgId", "org/../other"))),
		bad("userId_too_long", "invalid_claim", sign(b("jti-long").with("userId", strings.Repeat("u", 129), "sub", strings.Repeat("u", 129)))),
		bad("role_uppercase", "invalid_claim", sign(b("jti-roleup").with("role", "Admin"))),
		bad("role_too_long", "invalid_claim", sign(b("jti-rolelong").with("role", strings.Repeat("r", 65)))),
		bad("jti_empty", "invalid_claim", sign(b("").with("jti", ""))),
		bad("sub_unicode", "invalid_claim", sign(b("jti-uni").with("sub", "usér_01", "userId", "usér_01"))),
		bad("sub_lone_surrogate", "invalid_claim", raw(A, hA, strings.Replace(b("jti-sur").json(), `"role":"member"`, `"role":"\ud800"`, 1))),
		bad("sub_differs_from_userId", "claim_mismatch", sign(b("jti-mismatch").with("sub", "user_02"))),
	)
	// Publish tokens.
	pubBad := func(name, want string, c claims) Case {
		cs := bad(name, want, sign(c))
		cs.Kind = "publish"
		return cs
	}
	add(
		pubBad("publish_without_scope", "wrong_scope", pub.with("scope", del)),
		pubBad("publish_other_scope", "wrong_scope", pub.with("scope", "admin")),
		pubBad("publish_with_handshake_token", "wrong_scope", b("jti-hs-as-pub")),
		pubBad("publish_missing_orgId", "missing_claim", pub.with("orgId", del)),
		pubBad("publish_expired", "expired", pub.with("exp", now-10, "iat", now-70, "nbf", now-70)),
	)
	addServiceCases(add, func(text string) string { return raw(A, hA, text) }, pub, b)
	return f, nil
}

// addServiceCases are the scope-list cases of every service route (docs/reason-codes.md#scopes):
// each route accepts a list naming it, refuses one that does not and every malformed list, and
// never takes a handshake token.
func addServiceCases(add func(...Case), signText func(string) string, pub claims, handshake func(string) claims) {
	sign := func(c claims) string { return signText(c.json()) }
	okAs := func(kind, name string, c claims) Case {
		cs := ok(name, sign(c), c)
		cs.Kind = kind
		return cs
	}
	badAs := func(kind, name, want string, c claims) Case {
		cs := bad(name, want, sign(c))
		cs.Kind = kind
		return cs
	}
	name32, names16 := strings.Repeat("a", 32), strings.TrimSpace(strings.Repeat("x ", 15))
	add(
		okAs("publish", "publish_in_scope_list", pub.with("jti", "svc-list-pub", "scope", "publish presence disconnect")),
		okAs("publish", "publish_scope_unknown_names_allowed", pub.with("jti", "svc-unknown", "scope", "future_thing publish")),
		badAs("publish", "publish_scope_list_without_publish", "wrong_scope", pub.with("jti", "svc-nopub", "scope", "presence disconnect")),
	)
	for _, route := range []string{contract.ScopePresence, contract.ScopeDisconnect} {
		r := func(name string) string { return route + "_" + name }
		c := func(jti string, kv ...any) claims { return pub.with(append([]any{"jti", route + "-" + jti}, kv...)...) }
		other := contract.ScopePresence
		if route == other {
			other = contract.ScopeDisconnect
		}
		add(
			okAs(route, r("scope_alone"), c("alone", "scope", route)),
			okAs(route, r("scope_in_list"), c("list", "scope", "publish presence disconnect")),
			okAs(route, r("scope_duplicated"), c("dup", "scope", route+" "+route)),
			okAs(route, r("scope_16_names_last"), c("16", "scope", names16+" "+route)),
			okAs(route, r("scope_with_32_char_name"), c("32", "scope", name32+" "+route)),
		)
		esc := c("esc", "scope", route)
		escaped := okAs(route, r("scope_escaped"), esc)
		// The list is judged after unescaping, as JSON.parse gives it to the Worker.
		escaped.Token = signText(strings.Replace(esc.json(), `"scope":"`+route+`"`, `"scope":"`+route[:2]+`\u00`+fmt.Sprintf("%x", route[2])+route[3:]+`"`, 1))
		add(escaped,
			badAs(route, r("publish_only_token"), "wrong_scope", c("pubonly", "scope", "publish")),
			badAs(route, r("other_route_scope"), "wrong_scope", c("other", "scope", other)),
			badAs(route, r("scope_missing"), "wrong_scope", c("missing", "scope", del)),
			badAs(route, r("scope_null"), "wrong_scope", c("null", "scope", nil)),
			badAs(route, r("scope_empty"), "wrong_scope", c("empty", "scope", "")),
			badAs(route, r("scope_array"), "wrong_scope", c("array", "scope", []string{route})),
			badAs(route, r("scope_number"), "wrong_scope", c("number", "scope", 1)),
			badAs(route, r("scope_leading_space"), "wrong_scope", c("lead", "scope", " "+route)),
			badAs(route, r("scope_trailing_space"), "wrong_scope", c("trail", "scope", route+" ")),
			badAs(route, r("scope_double_space"), "wrong_scope", c("double", "scope", "publish  "+route)),
			badAs(route, r("scope_tab_separated"), "wrong_scope", c("tab", "scope", "publish\t"+route)),
			badAs(route, r("scope_comma_separated"), "wrong_scope", c("comma", "scope", "publish,"+route)),
			badAs(route, r("scope_upper_case"), "wrong_scope", c("upper", "scope", strings.ToUpper(route))),
			badAs(route, r("scope_17_names"), "wrong_scope", c("17", "scope", names16+" x "+route)),
			badAs(route, r("scope_33_char_name"), "wrong_scope", c("33", "scope", name32+"a "+route)),
			badAs(route, r("scope_prefix_of_name"), "wrong_scope", c("prefix", "scope", route+"_all")),
			badAs(route, r("handshake_token"), "wrong_scope", handshake("jti-hs-as-"+route)),
			badAs(route, r("missing_sub"), "missing_claim", c("nosub", "sub", del, "scope", route)),
			badAs(route, r("orgId_path_chars"), "invalid_claim", c("orgpath", "orgId", "org/../x", "scope", route)),
			badAs(route, r("expired"), "expired", c("exp", "scope", route, "exp", now-10, "iat", now-70, "nbf", now-70)),
		)
	}
}

func itoa(n int64) string { return fmt.Sprint(n) }

// nonCanonical flips the unused low bits of the last base64url character: decoders that do not
// check them accept a second spelling of the same signature.
func nonCanonical(seg string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, seg[len(seg)-1])
	return seg[:len(seg)-1] + string(alphabet[last|1])
}

func jwkJSON(pub *rsa.PublicKey) string {
	b, _ := json.Marshal(rsakey.PublicJWK(pub))
	return string(b)
}

// truncate drops n bytes from a base64url signature, keeping the encoding canonical.
func truncate(seg string, n int) string {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:len(b)-n])
}
