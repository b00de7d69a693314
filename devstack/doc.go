// Package devstack starts what `helhedsplan dev` needs on a developer's machine, inside the one process: a
// Temporal server persisted to a SQLite file, the Temporal Web UI, and a PostgreSQL database (an existing one, the
// local server on 127.0.0.1:5432, or a private cluster under the data directory).
//
// Only the dev role imports this package. It pulls in the whole Temporal server, so keeping it out of the api and
// worker roles keeps production binaries free of server code (they are built with the nodev tag).
package devstack
