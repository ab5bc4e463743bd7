package admin

import (
	"bufio"
	_ "embed"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// commonPasswords is the 30,000-entry "passwords" frequency list of zxcvbn
// 4.4.2 (npm package zxcvbn, lib/frequency_lists.js; data compiled by Dan
// Wheeler / Dropbox from leaked password dumps; MIT licence, see NOTICE in
// this directory). Only the data is used, one lowercase password per line.
//
//go:embed common-passwords.txt
var commonPasswords string

// Password length limits (NIST SP 800-63B §3.1.1.2; OWASP ASVS 5.0 V6.2).
// MinPasswordLen is in code points; MaxPasswordLen only stops abuse of the
// hash (a megabyte password), far above the 64 the standard asks us to allow.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 1024
)

// PolicyError says why a password was refused; its message is safe to show.
type PolicyError struct{ Reason string }

func (e *PolicyError) Error() string { return "admin: " + e.Reason }

// blocklist is the set of refused passwords, loaded once per Server.
type blocklist map[string]struct{}

func loadBlocklist() blocklist {
	b := make(blocklist, 30000)
	sc := bufio.NewScanner(strings.NewReader(commonPasswords))
	for sc.Scan() {
		if w := strings.TrimSpace(sc.Text()); w != "" {
			b[w] = struct{}{}
		}
	}
	return b
}

// normalizePassword applies NFKC so the same password typed on different
// keyboards or systems hashes the same (NIST SP 800-63B §5.1.1.2).
func normalizePassword(pw string) string { return norm.NFKC.String(pw) }

// checkPassword applies the NIST SP 800-63B rules to a new password: length
// in code points, no composition rules, and refusal of passwords that
// attackers try first — common/breached ones (also with digits or symbols
// tacked on, or repeated), ones made of a single repeated character or a
// plain sequence, and ones built from the user's own name or the product's.
func (b blocklist) checkPassword(pw, username string) error {
	if !utf8.ValidString(pw) {
		return &PolicyError{"the password is not valid UTF-8"}
	}
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordLen {
		return &PolicyError{"the password must be at least 12 characters; a long passphrase of several words is easiest to remember"}
	}
	if n > MaxPasswordLen {
		return &PolicyError{"the password must be at most 1024 characters"}
	}
	why := "this password appears in a list of common or breached passwords that attackers try first; choose another"
	lower := strings.ToLower(pw)
	if b.contains(lower) {
		return &PolicyError{why}
	}
	if core := strings.TrimRight(lower, "0123456789!@#$%^&*()-_=+.,?~ "); core != lower && len(core) >= 4 && b.contains(core) {
		return &PolicyError{why}
	}
	if unit := repeatedUnit(lower); unit != "" && (b.contains(unit) || utf8.RuneCountInString(unit) <= 3) {
		return &PolicyError{"the password repeats a short or common pattern; choose another"}
	}
	if isSequence(lower) {
		return &PolicyError{"the password is a simple sequence; choose another"}
	}
	for _, ctx := range []string{strings.ToLower(username), "izwi"} {
		if len(ctx) >= 3 && strings.Contains(lower, ctx) && utf8.RuneCountInString(strings.ReplaceAll(lower, ctx, "")) < MinPasswordLen {
			return &PolicyError{"the password is too close to the user or product name; choose another"}
		}
	}
	return nil
}

func (b blocklist) contains(s string) bool { _, ok := b[s]; return ok }

// repeatedUnit returns u when s is u repeated at least twice, else "".
func repeatedUnit(s string) string {
	for size := 1; size <= len(s)/2; size++ {
		if len(s)%size == 0 && strings.Repeat(s[:size], len(s)/size) == s {
			return s[:size]
		}
	}
	return ""
}

// isSequence reports runs like "abcdefghijkl" or "123456789012" (each code
// point one more, or one less, than the one before, wrapping 9→0).
func isSequence(s string) bool {
	rs := []rune(s)
	up, down := true, true
	for i := 1; i < len(rs); i++ {
		d := rs[i] - rs[i-1]
		up = up && (d == 1 || rs[i-1] == '9' && rs[i] == '0')
		down = down && (d == -1 || rs[i-1] == '0' && rs[i] == '9')
	}
	return up || down
}
