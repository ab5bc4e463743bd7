package audit

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/izwi-speech/izwi/internal/store"
)

// Recorded is one stored audit entry, decoded.
type Recorded struct {
	Seq   int64
	Event Event
}

// maxRecent bounds Recent.
const maxRecent = 1000

// Recent returns up to n of the latest entries, newest first, for the
// console to show. It decodes the stored rows as they are and does not
// verify them (Verify does); a row that does not decode is shown with
// Action "(unreadable entry)".
func Recent(ctx context.Context, db *store.Store, n int) ([]Recorded, error) {
	n = min(max(n, 1), maxRecent)
	rows, err := db.QueryContext(ctx, "SELECT seq, entry FROM audit_log ORDER BY seq DESC LIMIT ?", n)
	if err != nil {
		return nil, fmt.Errorf("audit: recent: %w", err)
	}
	defer rows.Close()
	var out []Recorded
	for rows.Next() {
		var e Recorded
		var raw []byte
		if err := rows.Scan(&e.Seq, &raw); err != nil {
			return nil, fmt.Errorf("audit: recent: %w", err)
		}
		if json.Unmarshal(raw, &e.Event) != nil {
			e.Event = Event{Action: "(unreadable entry)"}
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: recent: %w", err)
	}
	return out, nil
}
