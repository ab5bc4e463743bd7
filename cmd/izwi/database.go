package main

import (
	"context"

	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/store"
)

// openStore opens the configured database: data.database, or the DSN in
// data.database_file. Every command that touches the database opens it
// here.
func openStore(ctx context.Context, d config.Data) (*store.Store, error) {
	name, err := d.DatabaseName()
	if err != nil {
		return nil, err
	}
	return store.Open(ctx, name)
}

// sqliteFile is the SQLite file the configuration names, or "" when the
// database is a PostgreSQL server (a DSN, or one read from
// data.database_file): checks on the file itself then do not apply.
func sqliteFile(d config.Data) string {
	if d.DatabaseFile != "" || store.IsDSN(d.Database) {
		return ""
	}
	return d.Database
}
