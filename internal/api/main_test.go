package api

import (
	"os"
	"testing"

	"github.com/izwi-speech/izwi/internal/store/pgtest"
)

// TestMain stops the PostgreSQL server BenchmarkAuthenticatedRPSStore
// starts.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
