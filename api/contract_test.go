package api

import (
	"testing"

	"github.com/helhedsplan/helhedsplan/store"
)

// The command wires *store.Store and *TemporalWorkflows into New; these fail the build here, next to the
// interfaces, if either drifts from what the API declares it needs.
var (
	_ Store             = (*store.Store)(nil)
	_ Workflows         = (*TemporalWorkflows)(nil)
	_ IdempotencyPurger = (*store.Store)(nil)
	_ TemporalChecker   = (*TemporalWorkflows)(nil)
)

// *store.Store reports its migrations through its pool; if that ever changes, /readyz would never be ready.
func TestStoreMigrationsAreReadable(t *testing.T) {
	if migrationStatusOf((*store.Store)(nil)) == nil {
		t.Fatal("readiness cannot read *store.Store's migration status")
	}
}
