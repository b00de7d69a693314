package api

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPISpec is the API's contract, served as written; TestOpenAPIMatchesRouter keeps it in step with the router.
//
//go:embed openapi.yaml
var openAPISpec []byte

func (s *server) openAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml", openAPISpec)
}

// healthz says the process is alive. It checks nothing else, so a database outage does not get the pod restarted.
func (s *server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz says whether the API can serve: PostgreSQL answers and is migrated, Temporal answers and knows the
// namespace (see Readiness).
func (s *server) readyz(c echo.Context) error {
	st := s.ready.run(c.Request().Context(), requestID(c))
	if len(st.failed) > 0 {
		return st.notReady()
	}
	return c.JSON(http.StatusOK, readyBody{Status: "ok", Checks: st.checks})
}
