// Package service is the one place where a signed-in user's action on a helhedsplan is decided and carried out:
// who may see a plan, an initiative or a disbursement (another plan's is "not found"), which role may take which
// action, the proposal's validation against the plan and the money still free, the workflow update with its
// deduplicating update ID, and the read of the initiative as recorded afterwards. It also says which actions a
// user may take on an initiative now (Allowed), computed with the very rules the workflow's validators run.
//
// Its only callers are the HTTP API (package api) and the web pages (package web): both decode and check their own
// input format (strict JSON, HTML forms), call the service with plain Go values and render its answer, so neither
// holds a second copy of a business rule and a refusal reads the same in both. Refusals are *domain.RuleError in
// Danish; other errors wrap store.ErrNotFound, store.ErrConflict, store.ErrUnavailable, ErrUnavailable,
// ErrStillRunning or ErrReadModelBehind, which the callers turn into answers (the API: problem+json).
package service
