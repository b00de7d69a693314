package api

import (
	"context"
	_ "embed"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"

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

// Dependency names as /readyz reports them.
const (
	depPostgreSQL = "postgresql"
	depTemporal   = "temporal"
)

// readyz says whether the API can serve: PostgreSQL and Temporal both answer. The body names a dependency that is
// down but never its error, which may contain host names; the error goes to the log.
func (s *server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.ReadyTimeout)
	defer cancel()
	checks := map[string]func(context.Context) error{depPostgreSQL: s.st.Ping, depTemporal: s.wf.Ready}

	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		status = map[string]string{}
		down   []string
	)
	for name, check := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := check(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				status[name] = "fejl"
				down = append(down, name)
				s.log.LogAttrs(ctx, slog.LevelWarn, "readiness check failed",
					slog.String("request_id", requestID(c)), slog.String("dependency", name), slog.String("error", err.Error()))
				return
			}
			status[name] = "ok"
		}()
	}
	wg.Wait()
	if len(down) > 0 {
		sort.Strings(down)
		return &apiError{
			code:   codeDependencyUnavailable,
			detail: fmt.Sprintf("Tjenesten er ikke klar: %s svarer ikke.", strings.Join(down, " og ")),
			checks: status,
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "ok", "checks": status})
}
