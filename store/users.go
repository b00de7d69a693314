package store

import (
	"context"
	"fmt"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/helhedsplan/helhedsplan/domain"
)

// UpsertToken stores the hash of an API token for a user, or relabels it when the user already has it. `dev`
// calls it at every start with the same tokens, so it must be repeatable. A hash that belongs to another user, or
// that was revoked, is ErrConflict: an upsert must never move a token to someone else or bring a revoked one back.
func (s *Store) UpsertToken(ctx context.Context, userID string, tokenHash []byte, label string) error {
	const q = `
		INSERT INTO api_tokens (token_hash, user_id, label)
		VALUES ($1, $2, $3)
		ON CONFLICT (token_hash) DO UPDATE SET label = EXCLUDED.label
		WHERE api_tokens.user_id = EXCLUDED.user_id AND api_tokens.revoked_at IS NULL`
	res, err := s.db.ExecContext(ctx, q, tokenHash, userID, label)
	if pq.As(err, pqerror.ForeignKeyViolation) != nil {
		return fmt.Errorf("upsert token: no user %q: %w", userID, ErrNotFound)
	}
	if err != nil {
		return translate(err, "upsert token for %s", userID)
	}
	n, err := rowsAffected(res, "upsert token")
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("upsert token for %s: the token belongs to another user or is revoked: %w", userID, ErrConflict)
	}
	return nil
}

// RevokeToken makes a token unusable from now on. Revoking an unknown or already revoked token is ErrNotFound.
func (s *Store) RevokeToken(ctx context.Context, tokenHash []byte) error {
	const q = `
		UPDATE api_tokens SET revoked_at = now()
		WHERE token_hash = $1 AND revoked_at IS NULL`
	res, err := s.db.ExecContext(ctx, q, tokenHash)
	if err != nil {
		return translate(err, "revoke token")
	}
	n, err := rowsAffected(res, "revoke token")
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("revoke token: %w", ErrNotFound)
	}
	return nil
}

// PrincipalByTokenHash authenticates a request: the token's user and their role in each plan, in one round trip
// because it runs on every request. Unknown and revoked tokens are both ErrNotFound, so the API cannot tell an
// attacker which tokens once existed.
func (s *Store) PrincipalByTokenHash(ctx context.Context, tokenHash []byte) (Principal, error) {
	const q = `
		SELECT u.id, u.name, u.email,
		       COALESCE(array_agg(m.plan_id ORDER BY m.plan_id) FILTER (WHERE m.plan_id IS NOT NULL), '{}') AS plan_ids,
		       COALESCE(array_agg(m.role ORDER BY m.plan_id) FILTER (WHERE m.plan_id IS NOT NULL), '{}') AS roles
		FROM api_tokens t
		JOIN users u ON u.id = t.user_id
		LEFT JOIN plan_members m ON m.user_id = u.id
		WHERE t.token_hash = $1 AND t.revoked_at IS NULL
		GROUP BY u.id, u.name, u.email`
	var row struct {
		ID      string         `db:"id"`
		Name    string         `db:"name"`
		Email   string         `db:"email"`
		PlanIDs pq.StringArray `db:"plan_ids"`
		Roles   pq.StringArray `db:"roles"`
	}
	if err := s.db.GetContext(ctx, &row, q, tokenHash); err != nil {
		return Principal{}, translate(err, "principal by token")
	}
	p := Principal{UserID: row.ID, Name: row.Name, Email: row.Email, Roles: make(map[string]domain.Role, len(row.PlanIDs))}
	for i, id := range row.PlanIDs {
		p.Roles[id] = domain.Role(row.Roles[i])
	}
	return p, nil
}

// ListUsers returns the members of a plan with their role in it, ordered by name. An unknown plan has no members.
func (s *Store) ListUsers(ctx context.Context, planID string) ([]domain.User, error) {
	const q = `
		SELECT u.id, u.name, u.email, m.plan_id, m.role, u.title
		FROM plan_members m
		JOIN users u ON u.id = m.user_id
		WHERE m.plan_id = $1
		ORDER BY u.name, u.id`
	var rows []struct {
		ID     string `db:"id"`
		Name   string `db:"name"`
		Email  string `db:"email"`
		PlanID string `db:"plan_id"`
		Role   string `db:"role"`
		Title  string `db:"title"`
	}
	if err := s.db.SelectContext(ctx, &rows, q, planID); err != nil {
		return nil, translate(err, "list users of plan %s", planID)
	}
	out := make([]domain.User, len(rows))
	for i, r := range rows {
		out[i] = domain.User{ID: r.ID, Name: r.Name, Email: r.Email, PlanID: r.PlanID, Role: domain.Role(r.Role), Title: r.Title}
	}
	return out, nil
}
