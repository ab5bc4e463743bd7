package streams

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestCloseCancelsWaitsAndRefuses(t *testing.T) {
	var s Set
	ended := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done, ok := s.Add(cancel)
	if !ok || s.Len() != 1 {
		t.Fatalf("Add: %v, %d open", ok, s.Len())
	}
	go func() { <-ctx.Done(); close(ended); done(); done() }() // done is idempotent
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ended:
	default:
		t.Fatal("Close returned before the connection ended")
	}
	if _, ok := s.Add(func() {}); ok || s.Len() != 0 {
		t.Fatalf("Add after Close: %v, %d open", ok, s.Len())
	}
}

// A connection that never ends: Close gives up when its context does.
func TestCloseHonoursDeadline(t *testing.T) {
	var s Set
	if _, ok := s.Add(func() {}); !ok {
		t.Fatal("Add refused")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v", err)
	}
}
