package jwt

import (
	"testing"

	"github.com/izwi-speech/izwi/internal/leaktest"
)

// TestMain fails the run if goroutines from this package, a test server or
// an HTTP client connection outlive the tests.
func TestMain(m *testing.M) {
	leaktest.Main(m, "izwi/internal/auth", "net/http.(*conn).serve", "net/http.(*persistConn)", "singleflight")
}
