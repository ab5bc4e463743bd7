package admin

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"image/png"
	"net/url"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
)

// TOTP per RFC 6238: HMAC-SHA-1, 30-second steps from T0 = 0, a 64-bit
// counter, 6 digits (what authenticator apps show). The HOTP core is
// github.com/pquerna/otp; step selection and replay protection are ours.
const (
	totpPeriod      = 30
	totpDigits      = 6
	totpSecretBytes = 20 // 160 bits (RFC 4226 §4 R6)
	totpIssuer      = "Izwi"
)

// newTOTPSecret returns 160 random bits from crypto/rand.
func newTOTPSecret() []byte {
	s := make([]byte, totpSecretBytes)
	rand.Read(s)
	return s
}

func b32(secret []byte) string {
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
}

// totpStep returns the RFC 6238 time step T for t.
func totpStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// hotpCode returns the digits-long HOTP value of secret at counter.
func hotpCode(secret []byte, counter uint64, digits int) string {
	code, err := hotp.GenerateCodeCustom(b32(secret), counter,
		hotp.ValidateOpts{Digits: otp.Digits(digits), Algorithm: otp.AlgorithmSHA1})
	if err != nil { // only on invalid base32, which b32 cannot produce
		return ""
	}
	return code
}

// checkTOTP looks for code at steps T and T−1 of now (never T−2 or later
// than T) and returns the matching step. A step at or before lastStep was
// already used (or is older than one that was): a code works once.
func checkTOTP(secret []byte, code string, now time.Time, lastStep int64) (int64, bool) {
	if len(code) != totpDigits {
		return 0, false
	}
	t := totpStep(now)
	found, match := int64(0), 0
	for _, step := range []int64{t, t - 1} {
		if step < 0 {
			continue
		}
		// Compare every candidate in constant time; take the newest match.
		if subtle.ConstantTimeCompare([]byte(hotpCode(secret, uint64(step), totpDigits)), []byte(code)) == 1 && match == 0 {
			found, match = step, 1
		}
	}
	if match == 0 || found <= lastStep {
		return 0, false
	}
	return found, true
}

// otpauthURI is the Key URI authenticator apps read from the QR code.
func otpauthURI(account string, secret []byte) string {
	v := url.Values{}
	v.Set("secret", b32(secret))
	v.Set("issuer", totpIssuer)
	v.Set("algorithm", "SHA1")
	v.Set("digits", fmt.Sprint(totpDigits))
	v.Set("period", fmt.Sprint(totpPeriod))
	return "otpauth://totp/" + url.PathEscape(totpIssuer+":"+account) + "?" + v.Encode()
}

// qrDataURL renders uri as a PNG QR code in a data: URL (allowed by the
// console's CSP img-src; nothing leaves the server).
func qrDataURL(uri string) (string, error) {
	key, err := otp.NewKeyFromURL(uri)
	if err != nil {
		return "", fmt.Errorf("admin: otpauth uri: %w", err)
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return "", fmt.Errorf("admin: qr code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return "", fmt.Errorf("admin: qr png: %w", err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}
