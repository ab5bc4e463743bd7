package auth

import (
	"os"
	"testing"

	"github.com/izwi-speech/izwi/internal/store/storetest"
)

// The package's tests are its store conformance suite: they run on SQLite,
// then on PostgreSQL.
func TestMain(m *testing.M) { os.Exit(storetest.Main(m, storetest.Postgres{})) }
