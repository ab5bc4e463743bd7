package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A PostgreSQL password stays out of the configuration: data.database may
// not hold one, data.database_file (owner-only) may.
func TestDatabaseFromFile(t *testing.T) {
	for _, c := range []struct {
		data Data
		want string // in the error; "" = valid
	}{
		{Data{Database: "postgres://izwi@db/izwi"}, ""},
		{Data{Database: "postgres://izwi:s3cret@db/izwi"}, "holds a password"},
		{Data{Database: "postgresql://izwi@db/izwi?password=s3cret"}, "holds a password"},
		{Data{Database: "x.db", DatabaseFile: "/run/credentials/izwi.service/database"}, "both set"},
	} {
		err := (Config{Data: c.data}).Validate()
		if c.want == "" && err != nil && strings.Contains(err.Error(), "data.database") {
			t.Errorf("%+v: %v", c.data, err)
		}
		if c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "s3cret")) {
			t.Errorf("%+v = %v, want %q", c.data, err, c.want)
		}
	}
	path := filepath.Join(t.TempDir(), "database")
	dsn := "postgres://izwi:s3cret@db/izwi"
	if err := os.WriteFile(path, []byte(dsn+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := Config{Data: Data{DatabaseFile: path}}.Defaults().Data
	if d.Database != "" {
		t.Fatalf("database defaulted to %q beside database_file", d.Database)
	}
	if _, err := d.DatabaseName(); err == nil {
		t.Fatal("a group/world-readable database file was accepted")
	}
	os.Chmod(path, 0o600)
	if got, err := d.DatabaseName(); err != nil || got != dsn {
		t.Fatalf("DatabaseName = %q, %v", got, err)
	}
}
