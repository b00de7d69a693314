package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// msgInputInvalid is the 422 for fields that are missing, null or hold characters no text may contain.
const msgInputInvalid = "Forespørgslen kan ikke modtages, fordi nogle felter mangler eller ikke overholder reglerne."

// decodeJSON reads exactly one JSON object into dst, strictly, before anything is acted on: a body that is not
// valid UTF-8, names a field twice (at any depth, also in another letter case, which encoding/json would take
// as the same field) or names a field dst does not have is 400; a required field (tag required:"true") that is
// missing or null, or text with NUL or other control characters, is 422 validation_failed naming each field.
// allowEmpty accepts a missing body for requests whose fields are all optional.
func decodeJSON(c echo.Context, dst any, allowEmpty bool) error {
	problems, err := decodeInput(c, dst, allowEmpty)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return &domain.RuleError{Code: domain.CodeValidation, Message: msgInputInvalid, Problems: problems}
	}
	return nil
}

// decodeInput is decodeJSON for a handler that checks the content further and reports everything at once: it
// returns the 422 problems (missing, null, forbidden characters) instead of refusing, with dst decoded.
func decodeInput(c echo.Context, dst any, allowEmpty bool) ([]domain.FieldProblem, error) {
	req := c.Request()
	if ct := req.Header.Get(echo.HeaderContentType); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != echo.MIMEApplicationJSON && !strings.HasSuffix(mt, "+json")) {
			return nil, newAPIError(codeUnsupportedMedia, "Send forespørgslen som application/json.")
		}
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err // *http.MaxBytesError becomes 413
	}
	if len(bytes.Trim(body, jsonSpace)) == 0 {
		if allowEmpty {
			return nil, nil
		}
		return nil, decodeError(io.EOF)
	}
	if !utf8.Valid(body) {
		return nil, newAPIError(codeBadRequest, "Forespørgslen er ikke gyldig UTF-8.")
	}
	if !validEscapes(body) {
		return nil, newAPIError(codeBadRequest,
			"Forespørgslen indeholder en ugyldig Unicode-escape: \\uD800-\\uDFFF skal stå i par.")
	}
	w := &inputWalker{dec: json.NewDecoder(bytes.NewReader(body))}
	w.dec.UseNumber()
	isNull, werr := w.value(reflect.TypeOf(dst).Elem(), "", 0)
	var dup *duplicateKeyError
	switch {
	case errors.As(werr, &dup):
		return nil, badRequest(dup.field, "duplicate_key", fmt.Sprintf("Feltet %q står mere end én gang i forespørgslen.", dup.field))
	case errors.Is(werr, errTooDeep):
		return nil, newAPIError(codeBadRequest, "Forespørgslen er indlejret for dybt.")
	}
	// A syntax error found by the walk is reported by encoding/json below, in its words.

	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return nil, decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return nil, newAPIError(codeBadRequest, "Forespørgslen må kun indeholde ét JSON-objekt.")
	}
	if werr != nil { // encoding/json accepted what the walk did not: refuse rather than guess
		return nil, newAPIError(codeBadRequest, "Forespørgslen kan ikke læses som JSON.")
	}
	if isNull { // a null body is an object without any field: each required one is missing
		w.required(reflect.TypeOf(dst).Elem(), "", nil)
	}
	return w.problems, nil
}

// jsonSpace is JSON's insignificant whitespace.
const jsonSpace = " \t\r\n"

// maxInputDepth bounds nesting; no request of the API goes deeper than four levels.
const maxInputDepth = 32

var errTooDeep = errors.New("json nested too deeply")

type duplicateKeyError struct{ field string }

func (e *duplicateKeyError) Error() string { return "duplicate key " + e.field }

// inputWalker reads a body token by token alongside the Go type it will be decoded into, checking what
// encoding/json lets through: duplicate keys (it keeps the last), null for a required field (it keeps the zero
// value) and control characters in text.
type inputWalker struct {
	dec      *json.Decoder
	problems []domain.FieldProblem
}

// value reads one JSON value at path, meant for a value of type t (nil when unknown or mismatched: then only
// keys and text are checked), and reports whether it was null.
func (w *inputWalker) value(t reflect.Type, path string, depth int) (isNull bool, err error) {
	if depth > maxInputDepth {
		return false, errTooDeep
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := w.dec.Token()
	if err != nil {
		return false, err
	}
	switch v := tok.(type) {
	case nil:
		return true, nil
	case string:
		if !domain.ValidText(v) {
			w.problems = append(w.problems, domain.FieldProblem{Field: fieldOrBody(path), Code: "invalid_characters",
				Message: "Teksten indeholder tegn, der ikke er tilladt: nul-tegn, kontroltegn eller ugyldig UTF-8."})
		}
	case json.Delim:
		switch v {
		case '{':
			return false, w.object(t, path, depth)
		case '[':
			var elem reflect.Type
			if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
				elem = t.Elem()
			}
			for i := 0; w.dec.More(); i++ {
				at := fmt.Sprintf("%s[%d]", path, i)
				null, err := w.value(elem, at, depth+1)
				if err != nil {
					return false, err
				}
				if null && elem != nil { // a list item cannot be absent, so null is never what the client meant
					w.problems = append(w.problems, requiredProblem(at))
				}
			}
			_, err := w.dec.Token() // ']'
			return false, err
		}
	}
	return false, nil
}

// object reads the members of an object up to its closing brace.
func (w *inputWalker) object(t reflect.Type, path string, depth int) error {
	var fields map[string]jsonField
	if t != nil && t.Kind() == reflect.Struct {
		fields = jsonFields(t)
	}
	seen := map[string]bool{}
	present := map[string]bool{}
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		folded := foldKey(key)
		f, known := fields[folded]
		name := key
		if known {
			name = f.name
		}
		at := joinPath(path, name)
		if seen[folded] {
			return &duplicateKeyError{field: joinPath(path, key)}
		}
		seen[folded] = true
		var ft reflect.Type
		if known {
			ft = f.typ
		}
		null, err := w.value(ft, at, depth+1)
		if err != nil {
			return err
		}
		if known && !null {
			present[f.name] = true
		}
	}
	if _, err := w.dec.Token(); err != nil { // '}'
		return err
	}
	if fields != nil {
		w.required(t, path, present)
	}
	return nil
}

// required adds a problem for each required field of struct type t that is not present.
func (w *inputWalker) required(t reflect.Type, path string, present map[string]bool) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return
	}
	for _, f := range orderedFields(t) {
		if f.required && !present[f.name] {
			w.problems = append(w.problems, requiredProblem(joinPath(path, f.name)))
		}
	}
}

func requiredProblem(field string) domain.FieldProblem {
	return domain.FieldProblem{Field: field, Code: "required", Message: "Feltet skal udfyldes."}
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// fieldOrBody names the body itself when a problem is about the top-level value.
func fieldOrBody(path string) string {
	if path == "" {
		return "body"
	}
	return path
}

// jsonField is a field of a request struct as encoding/json sees it.
type jsonField struct {
	name     string
	typ      reflect.Type
	required bool
}

// orderedFields lists the JSON fields of struct t in declaration order, with the fields of embedded structs in
// place, as encoding/json flattens them. A field is required when tagged required:"true".
func orderedFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" {
			et := sf.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				out = append(out, orderedFields(et)...)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		out = append(out, jsonField{name: name, typ: sf.Type, required: sf.Tag.Get("required") == "true"})
	}
	return out
}

// jsonFields maps the folded JSON name of each field of t to the field: encoding/json matches names without
// regard to letter case.
func jsonFields(t reflect.Type) map[string]jsonField {
	fields := map[string]jsonField{}
	for _, f := range orderedFields(t) {
		fields[foldKey(f.name)] = f
	}
	return fields
}

// foldKey folds a field name the way encoding/json compares names (case-insensitively), so "Outcome" and
// "outcome" are one key.
func foldKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
		} else {
			r = unicode.ToLower(unicode.ToUpper(r))
		}
		b.WriteRune(r)
	}
	return b.String()
}

// validEscapes reports whether every \u escape in the JSON text b that encodes a UTF-16 surrogate is part of a
// high-low pair. encoding/json silently replaces a lone surrogate with U+FFFD, which is as wrong as invalid UTF-8.
func validEscapes(b []byte) bool {
	inString := false
	for i := 0; i < len(b); i++ {
		switch {
		case !inString:
			inString = b[i] == '"'
		case b[i] == '"':
			inString = false
		case b[i] == '\\' && i+1 < len(b):
			if b[i+1] != 'u' {
				i++
				continue
			}
			r, ok := hex4(b, i+2)
			if !ok {
				return true // a syntax error; encoding/json reports it
			}
			i += 5
			switch {
			case r >= 0xDC00 && r <= 0xDFFF:
				return false // a low surrogate without a high one before it
			case r >= 0xD800 && r <= 0xDBFF:
				if i+6 >= len(b) || b[i+1] != '\\' || b[i+2] != 'u' {
					return false
				}
				lo, ok := hex4(b, i+3)
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					return false
				}
				i += 6
			}
		}
	}
	return true
}

// hex4 reads four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[i:i+4]), 16, 16)
	return rune(n), err == nil
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
