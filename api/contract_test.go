package api

import "github.com/helhedsplan/helhedsplan/store"

// The command wires *store.Store and *TemporalWorkflows into New; these fail the build here, next to the
// interfaces, if either drifts from what the API declares it needs.
var (
	_ Store     = (*store.Store)(nil)
	_ Workflows = (*TemporalWorkflows)(nil)
)
