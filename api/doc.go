// Package api is the HTTP API of helhedsplan: JSON over Echo v4 under /api/v1, described by the hand-written
// OpenAPI document openapi.yaml that the package serves and tests against its own router.
//
// Reads come from the PostgreSQL read model (Store); every change goes through the initiative's Temporal workflow
// (Workflows) as an Update, so the workflow's validators are the single authority on what may happen and the API
// answers only once the transition is recorded. The API still checks the caller's role in the initiative's plan
// first, so a user never learns about another plan's data and a wrong role gets a clear 403 without a round trip.
//
// Errors of every kind are turned into RFC 9457 application/problem+json by one HTTPErrorHandler with stable
// problem codes and Danish text; 5xx bodies carry only the request ID, and the full error chain goes to the log.
// Faults that pass (PostgreSQL or Temporal down, an update still running when the request's time is up) are 503
// with Retry-After, never 500.
//
// Updates return only phase and version (workflows.UpdateResult); the answer is read from the read model. Request
// bodies are read strictly before anything happens (decodeJSON), and an Idempotency-Key is bound to the request it
// came with: its stored answer, the Temporal update ID and a created initiative's ID all derive from the caller,
// the key and a hash of method, path and body.
//
// This is the only package that imports Echo; nothing imports this package except the command that runs it.
package api
