package bus

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestEmbeddedRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := Start(ctx, Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !b.Embedded() {
		t.Fatal("zero config should embed the broker")
	}
	if err := b.Check(ctx); err != nil {
		t.Fatal(err)
	}
	sub, err := b.Conn().Subscribe("izwi.test.echo", func(m *nats.Msg) { m.Respond(append([]byte("re:"), m.Data...)) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	msg, err := b.Conn().RequestWithContext(ctx, "izwi.test.echo", []byte("hi"))
	if err != nil {
		t.Fatal(err)
	}
	if string(msg.Data) != "re:hi" {
		t.Fatalf("reply %q", msg.Data)
	}
}

// A second process (a worker in a split deployment) reaches the embedded
// broker over its listener with the external-URL mode.
func TestListenerServesExternalClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := Start(ctx, Config{Listen: "127.0.0.1:-1", JetStream: true, StoreDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	url := b.srv.ClientURL()
	ext, err := Start(ctx, Config{URL: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ext.Close()
	if ext.Embedded() {
		t.Fatal("url config must not embed")
	}
	got := make(chan string, 1)
	sub, _ := b.Conn().Subscribe("izwi.x", func(m *nats.Msg) { got <- string(m.Data) })
	defer sub.Unsubscribe()
	b.Conn().Flush()
	ext.Conn().Publish("izwi.x", []byte("across"))
	select {
	case v := <-got:
		if v != "across" {
			t.Fatalf("got %q", v)
		}
	case <-ctx.Done():
		t.Fatal("message did not cross the listener")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{URL: "nats://x:4222", JetStream: true},
		{URL: "nats://x:4222", Listen: ":4222"},
		{JetStream: true},
	} {
		if c.Validate() == nil {
			t.Errorf("%+v: want error", c)
		}
	}
	if _, err := Start(context.Background(), Config{Listen: "nope"}, nil); err == nil {
		t.Error("bad listen address accepted")
	}
}

func TestRedactURL(t *testing.T) {
	got := redactURL("nats://alice:s3cret@host:4222")
	if strings.Contains(got, "s3cret") || strings.Contains(got, "alice") {
		t.Fatalf("credentials leaked: %s", got)
	}
}
