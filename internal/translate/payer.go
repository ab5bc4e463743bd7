package translate

import "context"

// Who pays for a translation: the quota subject of the live session's
// owner ("key:<id>", "jwt:<iss>#<sub>"), carried in the context because
// one Service serves every session. It is deliberately not the viewer's
// principal (auth's context value): viewers share one translation per
// caption, the owner who asked for the language pays for it. An empty
// subject (a console session) charges no one.

type payerKey struct{}

// WithPayer returns ctx carrying subject as the payer of the
// translations made under it.
func WithPayer(ctx context.Context, subject string) context.Context {
	return context.WithValue(ctx, payerKey{}, subject)
}

// Payer is the quota subject WithPayer set on ctx ("" if none).
func Payer(ctx context.Context) string {
	s, _ := ctx.Value(payerKey{}).(string)
	return s
}
