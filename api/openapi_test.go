package api

import (
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/labstack/echo/v4"
	"gopkg.in/yaml.v3"
)

type openAPIDoc struct {
	OpenAPI    string                                 `yaml:"openapi"`
	Paths      map[string]map[string]openAPIOperation `yaml:"paths"`
	Components map[string]map[string]any              `yaml:"components"`
	raw        any
}

type openAPIOperation struct {
	Security   *[]map[string][]string `yaml:"security"`
	Parameters []map[string]any       `yaml:"parameters"`
	Responses  map[string]any         `yaml:"responses"`
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func loadSpec(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := yaml.Unmarshal(openAPISpec, &doc); err != nil {
		t.Fatalf("openapi.yaml does not parse: %v", err)
	}
	if err := yaml.Unmarshal(openAPISpec, &doc.raw); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q, want 3.x", doc.OpenAPI)
	}
	return doc
}

// specOperations lists "METHOD /path" for every operation in the spec.
func specOperations(doc openAPIDoc) []string {
	var ops []string
	for path, item := range doc.Paths {
		for method := range item {
			if slices.Contains(httpMethods, method) {
				ops = append(ops, strings.ToUpper(method)+" "+path)
			}
		}
	}
	sort.Strings(ops)
	return ops
}

var echoParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// routerOperations lists "METHOD /path" for every route the router serves, with :param written as {param}.
func routerOperations(e *echo.Echo) []string {
	var ops []string
	for _, r := range e.Routes() {
		if r.Method == echo.RouteNotFound {
			continue
		}
		ops = append(ops, r.Method+" "+echoParam.ReplaceAllString(r.Path, "{$1}"))
	}
	sort.Strings(ops)
	return ops
}

// TestOpenAPIMatchesRouter keeps the spec and the router from drifting: every route is documented with the same
// method and path (parameter names included), and the spec documents nothing the router does not serve.
func TestOpenAPIMatchesRouter(t *testing.T) {
	doc := loadSpec(t)
	h := newHarness(t)
	if diff := cmp.Diff(specOperations(doc), routerOperations(h.e)); diff != "" {
		t.Errorf("openapi.yaml paths (-) differ from the router (+):\n%s", diff)
	}
}

// TestOpenAPISecurityMatchesRouter checks that exactly the operations the spec marks public (security: []) answer
// without a token, so a route cannot be left unprotected (or documented as protected) by mistake.
func TestOpenAPISecurityMatchesRouter(t *testing.T) {
	doc := loadSpec(t)
	h := newHarness(t)
	for path, item := range doc.Paths {
		for method, op := range item {
			if !slices.Contains(httpMethods, method) {
				continue
			}
			public := op.Security != nil && len(*op.Security) == 0
			url := strings.NewReplacer("{id}", iniViborg, "{planID}", planViborg, "{n}", "1").Replace(path)
			body := ""
			if method == "post" {
				body = "{}"
			}
			rec := h.do(strings.ToUpper(method), url, "", body)
			if got401 := rec.Code == http.StatusUnauthorized; got401 == public {
				t.Errorf("%s %s: public in spec = %v, but without a token the router answers %d", method, path, public, rec.Code)
			}
			if !public {
				if _, ok := op.Responses["401"]; !ok {
					t.Errorf("%s %s needs a token but documents no 401", method, path)
				}
			}
			if method == "post" && !hasRef(op.Parameters, "#/components/parameters/IdempotencyKey") {
				t.Errorf("%s %s does not document the Idempotency-Key header", method, path)
			}
		}
	}
}

func hasRef(params []map[string]any, ref string) bool {
	for _, p := range params {
		if p["$ref"] == ref {
			return true
		}
	}
	return false
}

// TestOpenAPIRefsResolve catches a $ref to a component that does not exist.
func TestOpenAPIRefsResolve(t *testing.T) {
	doc := loadSpec(t)
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				if k == "$ref" {
					ref, _ := child.(string)
					parts := strings.Split(strings.TrimPrefix(ref, "#/components/"), "/")
					if !strings.HasPrefix(ref, "#/components/") || len(parts) != 2 || doc.Components[parts[0]][parts[1]] == nil {
						t.Errorf("%s: $ref %q does not resolve", at, ref)
					}
					continue
				}
				walk(child, at+"/"+k)
			}
		case []any:
			for _, child := range v {
				walk(child, at+"[]")
			}
		}
	}
	walk(doc.raw, "")
}

// TestOpenAPIProblemCodes checks the documented problem codes are exactly those the error handler can produce.
func TestOpenAPIProblemCodes(t *testing.T) {
	doc := loadSpec(t)
	schema, _ := doc.Components["schemas"]["ProblemCode"].(map[string]any)
	var documented []string
	for _, c := range schema["enum"].([]any) {
		documented = append(documented, c.(string))
	}
	var served []string
	for c := range problemKinds {
		served = append(served, c)
	}
	sort.Strings(documented)
	sort.Strings(served)
	if diff := cmp.Diff(served, documented); diff != "" {
		t.Errorf("ProblemCode enum (+) differs from the handler's codes (-):\n%s", diff)
	}
}

// TestOpenAPIDocuments503WithRetryAfter: every route that needs a token can meet a database that is down, so each
// documents 503; every documented 503 (and the 409 for a request still in progress) carries Retry-After.
func TestOpenAPIDocuments503WithRetryAfter(t *testing.T) {
	doc := loadSpec(t)
	responses := doc.Components["responses"]
	resolve := func(r any) map[string]any {
		m, _ := r.(map[string]any)
		if ref, ok := m["$ref"].(string); ok {
			m, _ = responses[strings.TrimPrefix(ref, "#/components/responses/")].(map[string]any)
		}
		return m
	}
	hasRetryAfter := func(r any) bool {
		headers, _ := resolve(r)["headers"].(map[string]any)
		h, _ := headers["Retry-After"].(map[string]any)
		return h["$ref"] == "#/components/headers/RetryAfter"
	}
	for path, item := range doc.Paths {
		for method, op := range item {
			if !slices.Contains(httpMethods, method) {
				continue
			}
			public := op.Security != nil && len(*op.Security) == 0
			r503, ok := op.Responses["503"]
			if !public && !ok {
				t.Errorf("%s %s needs a token (so the database) but documents no 503", method, path)
			}
			if ok && !hasRetryAfter(r503) {
				t.Errorf("%s %s documents 503 without Retry-After", method, path)
			}
			if r409, ok := op.Responses["409"]; ok && !hasRetryAfter(r409) {
				t.Errorf("%s %s documents 409 (idempotency_request_in_progress) without Retry-After", method, path)
			}
		}
	}
}

// TestOpenAPIRequiredMatchesRequestTypes: the fields the spec marks required are exactly those the decoder
// refuses to do without (tag required:"true").
func TestOpenAPIRequiredMatchesRequestTypes(t *testing.T) {
	doc := loadSpec(t)
	schemas := doc.Components["schemas"]
	schema := func(name string) map[string]any {
		m, _ := schemas[name].(map[string]any)
		return m
	}
	item := func(s map[string]any, prop string) map[string]any {
		props, _ := s["properties"].(map[string]any)
		p, _ := props[prop].(map[string]any)
		items, _ := p["items"].(map[string]any)
		return items
	}
	proposal := schema("ProposalFields")
	evaluation := schema("EvaluationRequest")
	tests := []struct {
		name   string
		schema map[string]any
		typ    reflect.Type
	}{
		{"ProposalFields", proposal, reflect.TypeFor[proposalBody]()},
		{"ProposalFields.goals[]", item(proposal, "goals"), reflect.TypeFor[goalBody]()},
		{"ProposalFields.milestones[]", item(proposal, "milestones"), reflect.TypeFor[milestoneBody]()},
		{"AmountInput", schema("AmountInput"), reflect.TypeFor[amountBody]()},
		{"DecisionRequest", schema("DecisionRequest"), reflect.TypeFor[decisionBody]()},
		{"WithdrawRequest", schema("WithdrawRequest"), reflect.TypeFor[withdrawBody]()},
		{"ReportRequest", schema("ReportRequest"), reflect.TypeFor[reportBody]()},
		{"CommentRequest", schema("CommentRequest"), reflect.TypeFor[commentBody]()},
		{"EvaluationRequest", evaluation, reflect.TypeFor[evaluationBody]()},
		{"EvaluationRequest.results[]", item(evaluation, "results"), reflect.TypeFor[goalResultBody]()},
		{"ConfirmRequest", schema("ConfirmRequest"), reflect.TypeFor[confirmBody]()},
		{"InKindRequest", schema("InKindRequest"), reflect.TypeFor[inKindBody]()},
		{"InKindRejectRequest", schema("InKindRejectRequest"), reflect.TypeFor[inKindRejectBody]()},
		{"AnnualDeclarationRequest", schema("AnnualDeclarationRequest"), reflect.TypeFor[annualDeclarationBody]()},
		{"AnnualFilingRequest", schema("AnnualFilingRequest"), reflect.TypeFor[annualFilingBody]()},
		{"AnnualSettingsRequest", schema("AnnualSettingsRequest"), reflect.TypeFor[annualSettingsBody]()},
		{"ReceiveReturnRequest", schema("ReceiveReturnRequest"), reflect.TypeFor[receiveReturnBody]()},
		{"SettlementRequest", schema("SettlementRequest"), reflect.TypeFor[settlementBody]()},
	}
	for _, tt := range tests {
		if tt.schema == nil {
			t.Errorf("%s: not in the spec", tt.name)
			continue
		}
		var inSpec []string
		if req, ok := tt.schema["required"].([]any); ok {
			for _, r := range req {
				inSpec = append(inSpec, r.(string))
			}
		}
		var inCode []string
		for _, f := range orderedFields(tt.typ) {
			if f.required {
				inCode = append(inCode, f.name)
			}
		}
		sort.Strings(inSpec)
		sort.Strings(inCode)
		if diff := cmp.Diff(inSpec, inCode); diff != "" {
			t.Errorf("%s: required in spec (-) and in %s (+):\n%s", tt.name, tt.typ, diff)
		}
	}
}
