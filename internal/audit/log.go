package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/store"
)

// migrations are the audit component's schema (append-only). The triggers
// make UPDATE and DELETE on the log fail inside SQLite too: the code has no
// such path, and the triggers catch anyone else's (an attacker with write
// access can drop them, which the chain and the checkpoints then detect).
func migrations() store.Migrations {
	return store.Migrations{
		SQLite: []string{
			`CREATE TABLE audit_log (
				seq   INTEGER PRIMARY KEY,
				entry BLOB NOT NULL,
				prev  BLOB NOT NULL,
				hash  BLOB NOT NULL)`,
			`CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
				BEGIN SELECT RAISE(ABORT, 'audit: the audit log is append-only'); END`,
			`CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
				BEGIN SELECT RAISE(ABORT, 'audit: the audit log is append-only'); END`,
			// tlog stored hashes of the Merkle tree over the entries (tree.go).
			`CREATE TABLE audit_tree (idx INTEGER PRIMARY KEY, hash BLOB NOT NULL)`,
			`CREATE TRIGGER audit_tree_no_update BEFORE UPDATE ON audit_tree
				BEGIN SELECT RAISE(ABORT, 'audit: the audit log is append-only'); END`,
			`CREATE TRIGGER audit_tree_no_delete BEFORE DELETE ON audit_tree
				BEGIN SELECT RAISE(ABORT, 'audit: the audit log is append-only'); END`,
		},
		Postgres: []string{
			`CREATE TABLE audit_log (
				seq   BIGINT PRIMARY KEY,
				entry BYTEA NOT NULL,
				prev  BYTEA NOT NULL,
				hash  BYTEA NOT NULL);
			CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN RAISE EXCEPTION 'audit: the audit log is append-only'; END $$`,
			`CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
				FOR EACH ROW EXECUTE FUNCTION audit_append_only()`,
			`CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
				FOR EACH ROW EXECUTE FUNCTION audit_append_only()`,
			`CREATE TABLE audit_tree (idx BIGINT PRIMARY KEY, hash BYTEA NOT NULL)`,
			`CREATE TRIGGER audit_tree_no_update BEFORE UPDATE ON audit_tree
				FOR EACH ROW EXECUTE FUNCTION audit_append_only()`,
			// TRUNCATE skips row triggers: a statement trigger refuses it.
			`CREATE TRIGGER audit_tree_no_delete BEFORE DELETE ON audit_tree
				FOR EACH ROW EXECUTE FUNCTION audit_append_only();
			CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
				FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
			CREATE TRIGGER audit_tree_no_truncate BEFORE TRUNCATE ON audit_tree
				FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()`,
		},
	}
}

// Component is the name the audit schema is migrated under.
const Component = "audit"

// Migrate applies the audit schema to st.
func Migrate(ctx context.Context, st *store.Store) error {
	return st.Migrate(ctx, Component, migrations())
}

// Options configure a Log. Paths and intervals come from config.Audit.
type Options struct {
	CheckpointPath     string
	SignerKeyPath      string
	PseudonymKeyPath   string
	CheckpointEvery    int           // 0: never by count
	CheckpointInterval time.Duration // 0: no timer
	HeartbeatInterval  time.Duration // 0: no heartbeats
	// Now is the clock; nil means time.Now. Tests pass a fake.
	Now    func() time.Time
	Logger *slog.Logger
	// NoStartEntry skips the "audit.start" entry New records; for tools
	// (`izwi audit checkpoint`) that record their own action instead.
	NoStartEntry bool
	// AcceptUnanchored lets New extend a log whose entries past the last
	// checkpoint (or all of them, with no checkpoint) nothing signed
	// vouches for; only `izwi audit checkpoint --accept-unanchored`, after
	// an operator has looked, sets it. Otherwise New refuses: a clean stop
	// always checkpoints, so such entries mean a crash or a forgery.
	AcceptUnanchored bool
	// AnchorWait is how long New waits, on PostgreSQL, for another
	// process's checkpoint to cover entries past the last one before it
	// refuses them: processes sharing the chain checkpoint their appends a
	// moment after making them (checkpoint_every = 1), so a process
	// starting beside them sees a short unanchored tail that is not a
	// crash's. 0 means 5 s; SQLite (one writer) never waits.
	AnchorWait time.Duration
	// Witness, if set, gets every signed checkpoint as well, off this
	// machine (NewWitness: an HTTPS POST to a URL the operator chose).
	Witness *Witness
}

// OptionsFrom returns the Options for cfg (after config defaults).
func OptionsFrom(cfg config.Audit, logger *slog.Logger) Options {
	return Options{
		CheckpointPath: cfg.CheckpointPath, SignerKeyPath: cfg.SignerKeyPath, PseudonymKeyPath: cfg.PseudonymKeyPath,
		CheckpointEvery: cfg.CheckpointEvery, CheckpointInterval: cfg.CheckpointInterval.Std(),
		HeartbeatInterval: cfg.HeartbeatInterval.Std(), Logger: logger,
	}
}

// Log is the append-only, hash-chained audit log on SQLite. It implements
// Recorder. Appends are serialised; each is committed with
// synchronous=FULL before Record returns.
type Log struct {
	db     *store.Store
	opts   Options
	signer note.Signer
	vkey   string
	ipKey  []byte
	log    *slog.Logger
	base   context.Context // for the timers' work: New's ctx without its cancellation

	mu        sync.Mutex // serialises appends and guards the fields below
	seq       int64      // last appended seq (0: empty)
	head      Hash       // hash(seq)
	last      time.Time  // time of entry seq
	cpSize    int64      // size of the last checkpoint written
	cpTime    time.Time  // and when (zero: none by this process)
	sinceCP   int        // entries since it
	failures  stats      // counters for Stats
	closed    bool
	stop      chan struct{}
	seal      chan struct{} // RecordTx asks the timers for a checkpoint soon
	wg        sync.WaitGroup
	closeOnce sync.Once
	// ownWitness: Open made opts.Witness, so Close closes it.
	ownWitness bool
}

var _ Recorder = (*Log)(nil)

// Open opens the audit log in st with cfg (after config defaults), starts
// its checkpoint and heartbeat timers and records an "audit.start" entry.
func Open(ctx context.Context, st *store.Store, cfg config.Audit, logger *slog.Logger) (*Log, error) {
	if err := Migrate(ctx, st); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	opts := OptionsFrom(cfg, logger)
	if cfg.WitnessURL != "" {
		w, err := NewWitness(cfg.WitnessURL, nil, logger)
		if err != nil {
			return nil, err
		}
		opts.Witness = w
	}
	l, err := New(ctx, st, opts)
	if err != nil {
		_ = opts.Witness.Close(ctx)
		return nil, err
	}
	l.ownWitness = opts.Witness != nil
	return l, nil
}

// New opens the log on db, whose audit schema must be migrated (Migrate).
// It refuses to start when the database is behind or differs from the latest
// checkpoint signed by this log's key (a cut-off tail or a swapped database):
// run `izwi audit verify` to see where.
func New(ctx context.Context, db *store.Store, opts Options) (*Log, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.CheckpointPath == "" || opts.SignerKeyPath == "" || opts.PseudonymKeyPath == "" {
		return nil, errors.New("audit: checkpoint path, signer key path and pseudonym key path are required")
	}
	signer, vkey, err := loadOrCreateSigner(opts.SignerKeyPath)
	if err != nil {
		return nil, err
	}
	ipKey, err := loadOrCreatePseudonymKey(opts.PseudonymKeyPath)
	if err != nil {
		return nil, err
	}
	l := &Log{db: db, opts: opts, signer: signer, vkey: vkey, ipKey: ipKey,
		log: opts.Logger.With("component", "audit"), stop: make(chan struct{}), seal: make(chan struct{}, 1), base: context.WithoutCancel(ctx)}
	if err := l.loadHead(ctx); err != nil {
		return nil, err
	}
	if err := l.checkAgainstLatestCheckpoint(ctx); err != nil {
		return nil, err
	}
	if l.seq > l.cpSize && !opts.AcceptUnanchored && db.Dialect() == store.Postgres {
		if err := l.awaitAnchor(ctx); err != nil {
			return nil, err
		}
	}
	if l.seq > l.cpSize && !opts.AcceptUnanchored {
		return nil, fmt.Errorf("audit: entries %d..%d are not covered by a signed checkpoint (a forged append, or a crash before the last checkpoint); "+
			"run izwi audit verify, and if they are genuine, izwi audit checkpoint --accept-unanchored", l.cpSize+1, l.seq)
	}
	if err := backfillTree(ctx, db, l.seq); err != nil {
		return nil, err
	}
	if !opts.NoStartEntry {
		if err := l.Record(ctx, Event{Actor: "system", Action: "audit.start", Outcome: OutcomeOK}); err != nil {
			return nil, err
		}
	}
	l.wg.Add(1)
	go l.timers()
	return l, nil
}

// VerifierKey returns the note verifier key for this log's checkpoints.
func (l *Log) VerifierKey() string { return l.vkey }

// loadHead reads the last entry's seq, hash and time. Caller holds mu or is
// the constructor.
func (l *Log) loadHead(ctx context.Context) error {
	seq, head, last, err := readHead(ctx, l.db)
	if err != nil {
		return err
	}
	l.seq, l.head, l.last = seq, head, last
	return nil
}

// readHead reads the chain's last entry through q: its seq, hash and time
// (0, Genesis and zero for an empty log).
func readHead(ctx context.Context, q querier) (int64, Hash, time.Time, error) {
	var seq int64
	var entry, hash []byte
	err := q.QueryRowContext(ctx, "SELECT seq, entry, hash FROM audit_log ORDER BY seq DESC LIMIT 1").Scan(&seq, &entry, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, Genesis(), time.Time{}, nil
	}
	if err != nil {
		return 0, Hash{}, time.Time{}, fmt.Errorf("audit: read head: %w", err)
	}
	e, err := Decode(entry)
	if err != nil || e.Seq != seq || len(hash) != HashSize {
		return 0, Hash{}, time.Time{}, fmt.Errorf("audit: last entry %d is damaged; run izwi audit verify", seq)
	}
	return seq, Hash(hash), e.Event.Time, nil
}

// awaitAnchor waits, up to AnchorWait, for a checkpoint (another
// process's) that covers the entries New found past the last one.
func (l *Log) awaitAnchor(ctx context.Context) error {
	wait := l.opts.AnchorWait
	if wait <= 0 {
		wait = 5 * time.Second
	}
	l.log.Info("audit: entries past the last checkpoint; waiting for the process that wrote them to checkpoint",
		"checkpointed", l.cpSize, "entries", l.seq, "wait", wait.String())
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for l.seq > l.cpSize {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return nil // New refuses the tail
		case <-tick.C:
		}
		if err := l.checkAgainstLatestCheckpoint(ctx); err != nil {
			return err
		}
	}
	return nil
}

// checkAgainstLatestCheckpoint fails when the log is shorter than, or has a
// different hash at, the size the latest checkpoint signed by our key says.
func (l *Log) checkAgainstLatestCheckpoint(ctx context.Context) error {
	raw, err := ReadCheckpoints(l.opts.CheckpointPath)
	if err != nil {
		return err
	}
	notes, errs := splitNotes(raw)
	for _, err := range errs {
		// A torn last write (power loss) must not stop the server; verify
		// reports the region, and later notes still count.
		l.log.Warn("audit: malformed region in the checkpoint file; run izwi audit verify", "err", err)
	}
	v, err := note.NewVerifier(l.vkey)
	if err != nil {
		return fmt.Errorf("audit: verifier key: %w", err)
	}
	for i := len(notes) - 1; i >= 0; i-- {
		cp, err := OpenCheckpoint(notes[i].Msg, v)
		if err != nil {
			continue // another key's, or forged: verify reports it
		}
		l.cpSize = cp.Size
		if cp.Size == 0 {
			return nil
		}
		if cp.Size > l.seq {
			return fmt.Errorf("audit: the log has %d entries but checkpoint %d says %d: entries were removed; run izwi audit verify",
				l.seq, notes[i].Index, cp.Size)
		}
		var h []byte
		if err := l.db.QueryRowContext(ctx, "SELECT hash FROM audit_log WHERE seq = ?", cp.Size).Scan(&h); err != nil {
			return fmt.Errorf("audit: read entry %d: %w", cp.Size, err)
		}
		if Hash(h) != cp.Head {
			return fmt.Errorf("audit: entry %d differs from checkpoint %d; run izwi audit verify", cp.Size, notes[i].Index)
		}
		return nil
	}
	return nil
}

// Record appends e durably, stamping it with the log's clock (never earlier
// than the previous entry) and pseudonymising RemoteIP. If it returns an
// error the caller must fail the audited action.
func (l *Log) Record(ctx context.Context, e Event) error {
	e, err := normalize(e)
	if err != nil {
		return err
	}
	e.RemoteIP = pseudonymizeIP(l.ipKey, e.RemoteIP)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errors.New("audit: log is closed")
	}
	if err := l.appendLocked(ctx, e); err != nil {
		l.failures.appends++
		l.log.Error("audit append failed", "action", e.Action, "err", err)
		return err
	}
	l.sinceCP++
	if l.opts.CheckpointEvery > 0 && l.sinceCP >= l.opts.CheckpointEvery {
		if _, err := l.checkpointLocked(); err != nil {
			// The entry is durable; a missed checkpoint is retried on the
			// next entry or tick, so the action itself stands.
			l.failures.checkpoints++
			l.log.Error("audit checkpoint failed", "err", err)
		}
	}
	return nil
}

// chainLock serialises appends to the chain across processes sharing a
// PostgreSQL database (store.Tx.Lock); SQLite's one connection already does.
const chainLock = "audit-chain"

// appendLocked chains e to the head as the database has it and inserts it,
// in one durable transaction (store.DurableTx: on disk when it returns)
// that holds the chain lock, so processes sharing the database append one
// at a time and never fork the chain.
func (l *Log) appendLocked(ctx context.Context, e Event) error {
	var seq int64
	var h Hash
	var now time.Time
	err := l.db.DurableTx(ctx, func(tx *store.Tx) error {
		var err error
		seq, h, now, err = chainTx(ctx, tx, l.opts.Now(), &e)
		return err
	})
	if err != nil {
		return fmt.Errorf("audit: append %d: %w", seq, err)
	}
	l.seq, l.head, l.last = seq, h, now
	return nil
}

// chainTx appends e inside tx: it takes the chain lock, reads the head,
// stamps e with now (never earlier than the head's time), and writes the
// entry and its tree hashes. It returns the new entry's seq, hash and time.
func chainTx(ctx context.Context, tx *store.Tx, now time.Time, e *Event) (int64, Hash, time.Time, error) {
	if err := tx.Lock(ctx, chainLock); err != nil {
		return 0, Hash{}, time.Time{}, err
	}
	seq, head, last, err := readHead(ctx, tx)
	if err != nil {
		return 0, Hash{}, time.Time{}, err
	}
	now = now.UTC().Round(0)
	if now.Before(last) {
		now = last // time never goes backwards in the log
	}
	e.Time = now
	seq++
	b, err := Encode(Entry{Seq: seq, Event: *e})
	if err != nil {
		return seq, Hash{}, time.Time{}, err
	}
	h := ChainHash(head, b)
	if _, err := tx.ExecContext(ctx, "INSERT INTO audit_log(seq, entry, prev, hash) VALUES(?, ?, ?, ?)",
		seq, b, head[:], h[:]); err != nil {
		return seq, Hash{}, time.Time{}, err
	}
	if err := storeTree(ctx, tx, seq, b); err != nil {
		return seq, Hash{}, time.Time{}, err
	}
	return seq, h, now, nil
}

func isConstraint(err error) bool {
	return err != nil && strings.Contains(err.Error(), "constraint")
}

// Head returns the log's size and head hash.
func (l *Log) Head() (int64, Hash) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq, l.head
}

// Checkpoint writes a signed checkpoint of the current head to the
// checkpoint file now.
func (l *Log) Checkpoint(ctx context.Context) (Checkpoint, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.loadHead(ctx); err != nil { // another process may have appended
		return Checkpoint{}, err
	}
	return l.checkpointLocked()
}

func (l *Log) checkpointLocked() (Checkpoint, error) {
	t := l.opts.Now().UTC().Round(0)
	if t.Before(l.last) {
		t = l.last
	}
	ctx, cancel := context.WithTimeout(l.base, 10*time.Second)
	defer cancel()
	root, err := treeRoot(ctx, l.db, l.seq)
	if err != nil {
		return Checkpoint{}, err
	}
	cp := Checkpoint{Size: l.seq, Head: l.head, Tree: root, HasTree: true, Time: t}
	signed, err := signCheckpoint(cp, l.signer)
	if err != nil {
		return Checkpoint{}, err
	}
	if err := appendCheckpoint(l.opts.CheckpointPath, signed); err != nil {
		return Checkpoint{}, err
	}
	l.cpSize, l.cpTime, l.sinceCP = l.seq, t, 0
	// The signed note goes to the process log too: shipped off the machine
	// (journald, syslog), it is a second copy an attacker on this host
	// cannot rewrite. `jq -r 'select(.checkpoint)|.checkpoint'` turns the
	// log back into a checkpoint file for `izwi audit verify --checkpoints`.
	l.log.Info("audit checkpoint", "size", l.seq, "checkpoint", string(signed))
	l.opts.Witness.send(signed)
	return cp, nil
}

// Close stops the timers, writes a final checkpoint if the log grew, and
// makes later Records fail. It does not close the database.
func (l *Log) Close() error {
	var err error
	l.closeOnce.Do(func() {
		close(l.stop)
		l.wg.Wait()
		l.mu.Lock()
		defer l.mu.Unlock()
		l.closed = true
		if err = l.reloadHead(); err != nil { // seal RecordTx entries too
			return
		}
		if l.seq != l.cpSize {
			_, err = l.checkpointLocked()
		}
		if l.ownWitness {
			ctx, cancel := context.WithTimeout(l.base, 10*time.Second)
			defer cancel()
			if werr := l.opts.Witness.Close(ctx); werr != nil {
				l.log.Warn("audit witness", "err", werr)
			}
		}
	})
	return err
}
