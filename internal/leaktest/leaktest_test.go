package leaktest

import (
	"testing"
	"time"
)

func TestLeakedFindsAndForgets(t *testing.T) {
	stop, started, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() { defer close(done); leakyWorkerForTest(started, stop) }()
	<-started
	if got := Leaked(50*time.Millisecond, "leakyWorkerForTest"); got == "" {
		t.Fatal("a live goroutine was not reported")
	}
	close(stop)
	<-done
	if got := Leaked(time.Second, "leakyWorkerForTest"); got != "" {
		t.Fatalf("a finished goroutine was reported:\n%s", got)
	}
}

func leakyWorkerForTest(started, stop chan struct{}) {
	close(started)
	<-stop
}
