package main

// The admin console's view of live captions: live.Manager, the engines'
// capacity and the microphone pairing issuer, adapted to admin.Live and
// admin.MicPairer in process (the console never calls the API over HTTP).

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/admin"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/auth/ticket"
	"github.com/izwi-speech/izwi/internal/engines"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/recognize"
)

// micPairingTTL is how long a console microphone pairing code works.
const micPairingTTL = 10 * time.Minute

type consoleLive struct {
	m     *live.Manager
	set   *engines.Set
	pairs *ticket.Issuer
}

var (
	_ admin.Live      = consoleLive{}
	_ admin.MicPairer = consoleLive{}
)

func sessionOf(i live.Info) admin.LiveSession {
	s := admin.LiveSession{ID: i.ID, Label: i.Label, State: string(i.State), ViewerMode: string(i.ViewerMode),
		KeepTranscript: i.KeepTranscript, Vocabulary: i.Hotwords, Source: i.Source, CreatedAt: i.CreatedAt}
	if c := i.Context; c != nil {
		s.Context = &admin.LiveContext{Bytes: c.Bytes}
		for _, e := range c.Engines {
			s.Context.Engines = append(s.Context.Engines, admin.LiveContextEngine{Engine: e.Engine, Words: e.Words, Added: e.Added,
				Dropped: e.Dropped, KeyTerms: e.Terms, ModelBytes: e.ModelBytes, BuildTime: e.BuildTime})
		}
	}
	return s
}

func (c consoleLive) List(ctx context.Context) ([]admin.LiveSession, error) {
	list, err := c.m.List(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]admin.LiveSession, len(list))
	for i, s := range list {
		out[i] = sessionOf(s)
	}
	return out, nil
}

func (c consoleLive) Create(ctx context.Context, req admin.NewSession) (admin.LiveSession, error) {
	keep := req.KeepTranscript
	cr, err := c.m.Create(ctx, "", live.CreateRequest{Label: req.Label, ViewerMode: live.ViewerMode(req.ViewerMode),
		Password: req.Password, Hotwords: req.Vocabulary, KeepTranscript: &keep})
	if err != nil {
		return admin.LiveSession{}, consoleErr(err)
	}
	s := sessionOf(cr.Info)
	s.LinkToken = cr.LinkToken
	return s, nil
}

func (c consoleLive) Act(ctx context.Context, id string, a admin.LiveAction) (admin.LiveSession, error) {
	var do func(context.Context, string, string) (live.Info, error)
	switch a {
	case admin.ActStart:
		do = c.m.Start
	case admin.ActStop:
		do = c.m.Stop
	case admin.ActResume:
		do = c.m.Resume
	case admin.ActPause:
		do = c.m.Pause
	default:
		return admin.LiveSession{}, admin.ErrLiveUnsupported
	}
	i, err := do(ctx, "", id)
	if err != nil {
		return admin.LiveSession{}, consoleErr(err)
	}
	return sessionOf(i), nil
}

func (c consoleLive) Status(ctx context.Context, id string) (admin.LiveStatus, error) {
	st, err := c.m.Stats(ctx, id)
	if err != nil {
		return admin.LiveStatus{}, consoleErr(err)
	}
	out := admin.LiveStatus{State: string(st.State), Level: st.Level, PeakDBFS: st.PeakDBFS, Clipping: st.Clipping,
		Receiving: st.Receiving, Engine: st.Engine, Viewers: st.Viewers}
	var parts []string
	for _, u := range c.set.Streams() {
		if u.Role != "asr" {
			continue
		}
		if u.Capacity > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d of %d in use", u.Engine, u.InUse, u.Capacity))
		} else {
			parts = append(parts, fmt.Sprintf("%s: %d in use (no fixed bound)", u.Engine, u.InUse))
		}
	}
	out.Capacity = strings.Join(parts, "; ")
	if out.Capacity == "" {
		out.Capacity = "no streaming recognizer loaded"
	}
	return out, nil
}

func (c consoleLive) SetContext(ctx context.Context, id, text string) (admin.LiveSession, error) {
	i, err := c.m.Update(ctx, "", id, live.UpdateRequest{Context: &live.PreparedText{Text: text}})
	if err != nil {
		return admin.LiveSession{}, consoleErr(err)
	}
	return sessionOf(i), nil
}

func (c consoleLive) PairMic(ctx context.Context, id, origin string) (string, time.Time, error) {
	if _, err := c.m.Get(ctx, "", id); err != nil {
		return "", time.Time{}, consoleErr(err)
	}
	iss, err := c.pairs.Issue(ctx, ticket.Grant{Subject: "session:" + id, SessionID: id, Scope: auth.ScopeLiveWrite,
		Origin: origin, SameOrigin: true})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%w: %v", admin.ErrRefused, err)
	}
	return iss.Ticket, iss.ExpiresAt, nil
}

// consoleErr turns live's refusals into messages a volunteer can act on.
func consoleErr(err error) error {
	msg := ""
	switch {
	case errors.Is(err, live.ErrNotFound):
		return admin.ErrNotFound
	case errors.Is(err, live.ErrTransition):
		msg = "the session's state does not allow this now"
	case errors.Is(err, live.ErrBadConfig):
		msg = strings.TrimPrefix(err.Error(), "live: ")
	case errors.Is(err, live.ErrLimit):
		msg = "too many live sessions: stop one first"
	case errors.Is(err, live.ErrNoEngine):
		msg = "no streaming recognizer is loaded (see Health)"
	case errors.Is(err, recognize.ErrBusy):
		msg = "every recognizer stream is in use: stop another session or retry in a moment"
	default:
		return err
	}
	return fmt.Errorf("%w: %s", admin.ErrRefused, msg)
}
