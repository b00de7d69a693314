// Package deployments holds how helhedsplan is shipped: the production container image (Dockerfile) and a
// production-like stack (compose.yaml) of PostgreSQL, Temporal, its Web UI and the migrate, api and worker roles.
// There is no Go code to run here; the package's test checks that compose.yaml parses and is wired to the roles
// and environment variables the binary actually has, since no Docker engine is needed to catch those mistakes.
package deployments
