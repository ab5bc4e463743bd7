package speech

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// langTag is a BCP 47-shaped language tag: an ISO 639 primary subtag, then
// optional subtags ("en", "en-US", "pt_BR").
var langTag = regexp.MustCompile(`^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8}){0,3}$`)

// PrimaryLanguage returns tag's primary subtag in lower case ("en-US" →
// "en"; "" → ""), or an ErrBadInput error when tag is not shaped like a
// language tag.
func PrimaryLanguage(tag string) (string, error) {
	if tag == "" {
		return "", nil
	}
	if !langTag.MatchString(tag) {
		return "", fmt.Errorf("speech: %q is not an ISO 639-1 language code such as en: %w", tag, ErrBadInput)
	}
	return strings.ToLower(strings.FieldsFunc(tag, func(r rune) bool { return r == '-' || r == '_' })[0]), nil
}

// Hears reports whether the engine takes primary (an ISO 639-1 code):
// always when it lists no Languages, else when primary is among them.
func (i EngineInfo) Hears(primary string) bool {
	return primary == "" || len(i.Languages) == 0 || slices.Contains(i.Languages, primary)
}
