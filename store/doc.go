// Package store keeps helhedsplan's state that lives outside Temporal, in PostgreSQL: the plans and their people,
// the initiative read model and its append-only event log, the append-only ledger of money per funding source and
// delaftale, the disbursements finance pays, the outbox of messages to other systems, and stored outcomes of
// idempotent API requests.
//
// Workflows hold the truth about an initiative; activities write each transition here with the ledger change it
// causes, in one transaction, and every write is idempotent because activities are retried. The database enforces
// what must never break even if the Go code has a bug: foreign keys, positive amounts, known phases and roles,
// unique idempotency keys, and triggers that refuse UPDATE and DELETE on the event log and the ledger.
//
// Driver errors are translated here, once: a missing row is ErrNotFound, a unique violation ErrConflict, and
// business refusals (insufficient funds, already paid) are *domain.RuleError. Schema changes are numbered SQL
// files in migrations/, embedded in the binary and applied with goose by Migrate.
package store
