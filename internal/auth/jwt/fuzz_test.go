package jwt

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/auth"
)

// FuzzParse feeds arbitrary header and payload JSON through the token
// decoder and the full verifier: nothing panics, accepted headers obey the
// RFC 8725 rules, and no unsigned token is ever accepted.
func FuzzParse(f *testing.F) {
	f.Add(`{"alg":"HS256","typ":"JWT","kid":"hs1"}`, `{"iss":"https://issuer.test/","aud":"izwi","sub":"a","exp":1900003600}`, "c2ln")
	f.Add(`{"alg":"none"}`, `{}`, "")
	f.Add(`{"alg":"HS256","alg":"none"}`, `{"a":{"b":[1,{"c":2,"c":3}]}}`, "")
	f.Add(`{"alg":"ES256","crit":["b64"],"b64":false}`, `{"exp":1e400}`, "AA")
	f.Add(`{"alg":"RS256","jku":"http://127.0.0.1/"}`, `{"nbf":"x","aud":[1,2]}`, "AAAA")
	f.Add(`{"alg":"EdDSA","kid":"../../x"}`, `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`, "")
	f.Add(`{"alg":"HS256","kid":"hs1"} `, `{"\u0073ub":"a","sub":"b"}`, "-_")
	k, clk := keysOnce(), newClock()
	a := newAuth(f, clk, nil, staticIssuer(f, k.hs))
	f.Fuzz(func(t *testing.T, header, payload, sig string) {
		enc := base64.RawURLEncoding.EncodeToString
		raw := enc([]byte(header)) + "." + enc([]byte(payload)) + "." + sig
		if err := checkJSONObject([]byte(header)); err == nil {
			var m map[string]any
			d := json.NewDecoder(bytes.NewReader([]byte(header)))
			d.UseNumber()
			if d.Decode(&m) != nil {
				t.Fatalf("checkJSONObject accepted what encoding/json refuses: %q", header)
			}
		}
		tok, err := parseToken(raw)
		if err == nil {
			if !allowedAlg(tok.header.Alg) || tok.payload == nil {
				t.Fatalf("parseToken accepted alg %q", tok.header.Alg)
			}
			if checkJSONObject([]byte(header)) != nil || checkJSONObject([]byte(payload)) != nil {
				t.Fatal("parseToken accepted duplicate or malformed JSON")
			}
		}
		// The fuzzer cannot forge an HMAC over the test secret.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if p, err := a.Verify(ctx, raw); err == nil {
			t.Fatalf("forged token accepted: %+v", p)
		} else if !errors.Is(err, auth.ErrInvalidCredentials) && !errors.Is(err, auth.ErrExpired) {
			t.Fatalf("error %v wraps neither sentinel", err)
		}
	})
}

// forget empties the verified-token cache (benchmarks of the cold path).
func (c *verifiedCache) forget() { c.mu.Lock(); clear(c.entries); c.mu.Unlock() }

// BenchmarkVerify measures verifying one token per key family (static keys,
// so no network): cold is the full check, cached a token seen before.
func BenchmarkVerify(b *testing.B) {
	k, clk := keysOnce(), newClock()
	a := newAuth(b, clk, nil, staticIssuer(b, k.all()...))
	for _, s := range []signer{k.hs, k.ed, k.es256, k.rsa} {
		r := bearer(mint(b, s, clk.Now(), nil, nil))
		b.Run(s.alg+"/cold", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				a.cache.forget()
				if _, err := a.Authenticate(r); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(s.alg+"/cached", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Authenticate(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
