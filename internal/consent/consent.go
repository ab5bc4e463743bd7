// Package consent owns recorded, revocable, exportable consent for
// biometric processing (BIPA 740 ILCS 14/15(b), GDPR Art. 7 and 9(2)(a)):
// who agreed (a pseudonymous subject id), to which notice (version and
// SHA-256 of its text), for which purpose from a fixed list, for how long,
// how (typed signature, spoken script, operator-attested paper form), with
// what evidence, and every later change. The evidence and any personal
// detail are sealed by the privacy vault under a key of the record's own;
// withdrawal and expiry shred the subject's biometric key at once, and
// erasure shreds the records too. Every change is audited in the same
// transaction. Voiceprint enrolment (issue 6) asks Active before it stores
// anything.
package consent

import (
	"errors"
	"time"
)

// Purpose is what the subject consents to. The list is fixed: a new
// purpose needs a new notice and a new consent.
type Purpose string

// Purposes.
const (
	// PurposeSpeakerID: enrol a voiceprint and name the subject on captions
	// when they speak in live sessions.
	PurposeSpeakerID Purpose = "speaker_identification"
)

// Method is how consent was given.
type Method string

// Methods.
const (
	MethodTypedSignature Method = "typed_signature" // typed name and an "I agree" on a page
	MethodSpokenScript   Method = "spoken_script"   // the subject read the consent script aloud while enrolling
	MethodPaper          Method = "paper"           // a signed form, attested by the operator
)

// Status of a record.
type Status string

// Statuses.
const (
	StatusActive    Status = "active"
	StatusWithdrawn Status = "withdrawn"
	StatusExpired   Status = "expired"
	StatusErased    Status = "erased"
)

// MaxTerm is the longest consent lasts: BIPA requires destruction within 3
// years of the subject's last interaction at the latest.
const MaxTerm = 3 * 365 * 24 * time.Hour

// Errors callers test for with errors.Is.
var (
	// ErrNoConsent means the subject has no active consent for the purpose:
	// enrolment and matching must be refused (HTTP 403).
	ErrNoConsent = errors.New("consent: no active consent for this subject and purpose")
	// ErrInvalid means a grant lacks what a valid consent needs.
	ErrInvalid = errors.New("consent: invalid grant")
	// ErrNotFound means no record has the id.
	ErrNotFound = errors.New("consent: no such record")
)

// Notice is the text shown (and, for MethodSpokenScript, read aloud)
// before collection.
type Notice struct {
	Version string `json:"version"`
	Text    string `json:"text"`
}

// Evidence is how the subject signified consent. It is personal data and
// is stored only sealed.
type Evidence struct {
	TypedName string `json:"typed_name,omitempty"`
	// Intent is the statement the subject affirmed ("I agree to ...").
	Intent    string `json:"intent"`
	RemoteIP  string `json:"remote_ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
}

// Grant is a consent to record.
type Grant struct {
	// Subject is a pseudonymous id ("subject:<random>"); never a name.
	Subject string
	// Representative is who consented for the subject (a guardian), if not
	// the subject; sealed.
	Representative string
	Purpose        Purpose
	Notice         Notice
	Method         Method
	// Operator is who recorded it ("user:<id>").
	Operator string
	// Term is how long consent lasts; 0 or more than MaxTerm means MaxTerm.
	Term time.Duration
	// ExplicitGDPR records that consent was explicit (Art. 9(2)(a)).
	ExplicitGDPR bool
	// Recipients are third parties the data may go to; none by default.
	Recipients []string
	Evidence   Evidence
}

// Change is one entry of a record's status history.
type Change struct {
	At     time.Time `json:"at"`
	Status Status    `json:"status"`
	Actor  string    `json:"actor"`
	Reason string    `json:"reason,omitempty"`
}

// Record is a consent as stored and exported.
type Record struct {
	ID             string    `json:"id"`
	Subject        string    `json:"subject"`
	Representative string    `json:"representative,omitempty"`
	Purpose        Purpose   `json:"purpose"`
	NoticeVersion  string    `json:"notice_version"`
	NoticeSHA256   string    `json:"notice_sha256"`
	Method         Method    `json:"method"`
	Operator       string    `json:"operator"`
	GivenAt        time.Time `json:"given_at"`
	Deadline       time.Time `json:"deadline"`
	ExplicitGDPR   bool      `json:"explicit_gdpr"`
	Recipients     []string  `json:"recipients"`
	Evidence       Evidence  `json:"evidence"`
	Status         Status    `json:"status"`
	History        []Change  `json:"history"`
	// SubjectKeyID is the vault key the subject's biometric data is sealed
	// under (shredded on withdrawal, expiry or erasure).
	SubjectKeyID string `json:"subject_key_id"`
}
