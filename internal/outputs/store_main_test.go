package outputs_test

import (
	"os"
	"testing"

	"github.com/izwi-speech/izwi/internal/store/storetest"
)

// The store tests are the outputs table's conformance suite: they run on
// SQLite, then on PostgreSQL (the senders' tests need no second pass).
func TestMain(m *testing.M) { os.Exit(storetest.Main(m, storetest.Postgres{Run: "TestStore"})) }
