//go:build !unix

package models

// lockModel is a no-op where flock is unavailable; concurrent pulls of one
// model are then the operator's to avoid.
func lockModel(dir, name string) (unlock func(), err error) { return func() {}, nil }
