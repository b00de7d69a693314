package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/helhedsplan/helhedsplan/store"
)

// decodeJSON reads exactly one JSON object into dst, refusing unknown fields so a misspelt field is an error the
// client sees instead of a value silently dropped. allowEmpty accepts a missing body for requests whose fields are
// all optional.
func decodeJSON(c echo.Context, dst any, allowEmpty bool) error {
	req := c.Request()
	if ct := req.Header.Get(echo.HeaderContentType); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != echo.MIMEApplicationJSON && !strings.HasSuffix(mt, "+json")) {
			return newAPIError(codeUnsupportedMedia, "Send forespørgslen som application/json.")
		}
	}
	dec := json.NewDecoder(req.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		if errors.Is(err, io.EOF) && allowEmpty {
			return nil
		}
		return decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err
		}
		return newAPIError(codeBadRequest, "Forespørgslen må kun indeholde ét JSON-objekt.")
	}
	return nil
}

// decodeError explains a JSON error in Danish. The client's own input is safe to echo back; Go type names are not
// shown, only what kind of value was expected.
func decodeError(err error) error {
	var (
		syntax  *json.SyntaxError
		typ     *json.UnmarshalTypeError
		tooBig  *http.MaxBytesError
		unknown = "json: unknown field "
	)
	switch {
	case errors.As(err, &tooBig):
		return err
	case errors.Is(err, io.EOF):
		return newAPIError(codeBadRequest, "Forespørgslen mangler et JSON-objekt.")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return newAPIError(codeBadRequest, "Forespørgslen er ikke gyldig JSON: den slutter for tidligt.")
	case errors.As(err, &syntax):
		return newAPIError(codeBadRequest, fmt.Sprintf("Forespørgslen er ikke gyldig JSON (ved tegn %d).", syntax.Offset))
	case errors.As(err, &typ):
		// encoding/json names embedded structs in the path ("proposalBody.budget.amount_ore"); the client's JSON
		// has no such level.
		field := strings.ReplaceAll(typ.Field, "proposalBody.", "")
		if field == "" {
			return newAPIError(codeBadRequest, "Forespørgslen skal være et JSON-objekt.")
		}
		return badRequest(field, "wrong_type", fmt.Sprintf("Feltet %q skal være %s.", field, kindName(typ.Type)))
	case strings.HasPrefix(err.Error(), unknown):
		// encoding/json (v1) reports unknown fields only as text; there is no error type to match.
		field, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), unknown))
		return badRequest(field, "unknown_field", fmt.Sprintf("Feltet %q findes ikke i denne forespørgsel.", field))
	}
	return newAPIError(codeBadRequest, "Forespørgslen kan ikke læses som JSON.")
}

func kindName(t reflect.Type) string {
	if t == nil {
		return "en anden type"
	}
	switch t.Kind() {
	case reflect.String:
		return "tekst"
	case reflect.Bool:
		return "true eller false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "et heltal"
	case reflect.Float32, reflect.Float64:
		return "et tal"
	case reflect.Slice, reflect.Array:
		return "en liste"
	case reflect.Struct, reflect.Map:
		return "et objekt"
	}
	return "en anden type"
}

// queryInt parses an optional integer query parameter within [lo, hi].
func queryInt(c echo.Context, name string, def, lo, hi int64) (int64, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, badRequest(name, "out_of_range", fmt.Sprintf("%s skal være et heltal fra %d til %d.", name, lo, hi))
	}
	return n, nil
}

// maxCursorLen bounds the opaque cursor so a client cannot send megabytes through to the store.
const maxCursorLen = 512

// queryPage reads the keyset paging parameters shared by the list endpoints: limit (1..store.MaxPageSize,
// default store.DefaultPageSize) and the opaque cursor.
func queryPage(c echo.Context) (limit int, cursor string, err error) {
	l, err := queryInt(c, "limit", int64(store.DefaultPageSize), 1, int64(store.MaxPageSize))
	if err != nil {
		return 0, "", err
	}
	cursor, err = queryCursor(c)
	return int(l), cursor, err
}

func queryCursor(c echo.Context) (string, error) {
	v := c.QueryParam("cursor")
	if len(v) > maxCursorLen {
		return "", badRequest("cursor", "invalid", "cursor er ugyldig; brug next_cursor fra forrige side.")
	}
	return v, nil
}
