// Package finite owns strict parsing of decimal numbers from outside the
// process (form fields, query parameters, environment variables, model
// metadata): strconv.ParseFloat accepts "NaN", "Inf" and "-Infinity",
// which slip past range checks written as lo <= x <= hi's negation
// (x < lo || x > hi is false for NaN). Every such parse goes through here.
// It is a leaf: it imports nothing of Izwi's.
package finite

import (
	"errors"
	"math"
	"strconv"
)

// ErrNotFinite is returned for NaN and infinities.
var ErrNotFinite = errors.New("finite: not a finite number")

// Parse parses s as a 64-bit float and refuses NaN and ±Inf.
func Parse(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, ErrNotFinite
	}
	return f, nil
}

// In parses s and requires lo <= value <= hi.
func In(s string, lo, hi float64) (float64, error) {
	f, err := Parse(s)
	if err != nil {
		return 0, err
	}
	if f < lo || f > hi {
		return 0, errors.New("finite: out of range")
	}
	return f, nil
}
