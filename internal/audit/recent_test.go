package audit

import (
	"context"
	"testing"
)

func TestRecent(t *testing.T) {
	e := newEnv(t)
	l := e.open(t)
	ctx := context.Background()
	for _, a := range []string{"key.create", "user.login", "session.create"} {
		if err := l.Record(ctx, Event{Actor: "user:1", Action: a, Outcome: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Recent(ctx, e.db(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Event.Action != "session.create" || got[1].Event.Action != "user.login" || got[0].Seq <= got[1].Seq {
		t.Fatalf("recent: %+v", got)
	}
}
