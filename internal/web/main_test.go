package web

import (
	"testing"

	"github.com/izwi-speech/izwi/internal/leaktest"
)

func TestMain(m *testing.M) {
	leaktest.Main(m, "internal/web.", "net/http.(*conn)", "coder/websocket")
}
