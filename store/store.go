package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
)

// Pool settings. The service runs a handful of activity workers and HTTP handlers per process; more connections
// than this only queue inside PostgreSQL instead of inside database/sql.
const (
	maxOpenConns    = 20
	maxIdleConns    = 10
	connMaxLifetime = 30 * time.Minute
	connMaxIdleTime = 5 * time.Minute
	pingTimeout     = 10 * time.Second
)

// Store is the PostgreSQL read model, ledger and audit trail. It is safe for concurrent use.
type Store struct {
	db *sqlx.DB
}

// Open connects to PostgreSQL with the lib/pq driver and checks the connection, so a wrong DSN fails at start-up
// rather than on the first request.
func Open(ctx context.Context, dsn string) (*Store, error) {
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		// The DSN may hold a password: never repeat it in the error.
		return nil, fmt.Errorf("store: open: %w", err)
	}
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(maxIdleConns)
	db.SetConnMaxLifetime(connMaxLifetime)
	db.SetConnMaxIdleTime(connMaxIdleTime)
	s := New(db)
	if err := s.Ping(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// New wraps an open database. The caller keeps ownership of the pool settings.
func New(db *sqlx.DB) *Store { return &Store{db: db} }

// DB returns the underlying pool, for health checks and tests.
func (s *Store) DB() *sqlx.DB { return s.db }

// Close closes the pool.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks that PostgreSQL answers, waiting at most pingTimeout so a readiness probe never hangs.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// readOnlySnapshot is for reads that span several queries and must agree with each other (a plan and its parts,
// the budget per source and per delaftale).
var readOnlySnapshot = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}

// inTx runs fn in a read-committed transaction and commits it. A failed commit is returned, never swallowed: the
// caller must not report success for a write that did not happen.
func (s *Store) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	return s.inTxOpts(ctx, nil, fn)
}

func (s *Store) inTxOpts(ctx context.Context, opts *sql.TxOptions, fn func(tx *sqlx.Tx) error) (err error) {
	tx, err := s.db.BeginTxx(ctx, opts)
	if err != nil {
		return translate(err, "begin")
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return translate(err, "commit")
	}
	return nil
}

// translate turns driver errors into the store's sentinels, once, and adds what the store was doing. The driver
// error stays in the chain for logs.
func translate(err error, op string, args ...any) error {
	if err == nil {
		return nil
	}
	what := fmt.Sprintf(op, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	if pqErr := pq.As(err, pqerror.UniqueViolation); pqErr != nil {
		return fmt.Errorf("%s: %w (%s): %w", what, ErrConflict, pqErr.Constraint, err)
	}
	if Transient(err) {
		return fmt.Errorf("%s: %w: %w", what, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Transient reports whether err is a fault of the database or the way to it that goes away by itself: the server
// is down, restarting or out of resources, the connection broke, or PostgreSQL aborted the transaction to resolve
// a conflict (serialization failure, deadlock). Such a write is retried until it succeeds; everything else (a
// constraint the data breaks, a bug) is not, because trying again gives the same answer.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnavailable) {
		return true
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch pqErr.Code.Class() {
		case pqerror.ClassConnectionException, pqerror.ClassTransactionRollback, pqerror.ClassInsufficientResources,
			pqerror.ClassOperatorIntervention:
			return true
		}
		return pqErr.Code == pqerror.LockNotAvailable
	}
	var netErr net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.As(err, &netErr)
}

// rowsAffected reports how many rows a statement changed.
func rowsAffected(res sql.Result, op string) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: rows affected: %w", op, err)
	}
	return n, nil
}
