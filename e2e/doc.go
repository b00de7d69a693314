// Package e2e holds the end-to-end tests: the real API, worker and activities on the embedded Temporal server
// (temporaltest) and a real PostgreSQL, driven over HTTP the way users drive them.
package e2e
