package config

import (
	"fmt"
	"strconv"
	"time"

	"github.com/izwi-speech/izwi/internal/finite"
)

// envReader gives each config section typed access to IZWI_* variables and
// collects their parse errors.
type envReader struct {
	lookup func(string) (string, bool)
	errs   *[]error
}

func (e envReader) get(name string) (string, bool) {
	v, ok := e.lookup(name)
	return v, ok && v != ""
}

// String sets *dst from the variable when it is set and non-empty.
func (e envReader) String(name string, dst *string) {
	if v, ok := e.get(name); ok {
		*dst = v
	}
}

// Bool sets *dst from a true/false variable.
func (e envReader) Bool(name string, dst *bool) {
	if v, ok := e.get(name); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			*e.errs = append(*e.errs, fmt.Errorf("config: %s=%q: want true or false", name, v))
			return
		}
		*dst = b
	}
}

// Int sets *dst from an integer variable.
func (e envReader) Int(name string, dst *int) {
	if v, ok := e.get(name); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			*e.errs = append(*e.errs, fmt.Errorf("config: %s=%q: want an integer", name, v))
			return
		}
		*dst = n
	}
}

// Float sets *dst from a decimal number variable.
func (e envReader) Float(name string, dst *float64) {
	if v, ok := e.get(name); ok {
		f, err := finite.Parse(v)
		if err != nil {
			*e.errs = append(*e.errs, fmt.Errorf("config: %s=%q: want a number", name, v))
			return
		}
		*dst = f
	}
}

// Duration sets *dst from a Go duration variable ("10s").
func (e envReader) Duration(name string, dst *Duration) {
	if v, ok := e.get(name); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			*e.errs = append(*e.errs, fmt.Errorf("config: %s=%q: %w", name, v, err))
			return
		}
		*dst = Duration(d)
	}
}
