package web

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// registeredRoutes reads the patterns of every mux.Handle call in
// routes.go, so that a route added there and not described fails below.
func registeredRoutes(tb testing.TB) []string {
	tb.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "routes.go", nil, 0)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
			return true
		}
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			tb.Errorf("a route in routes.go is not a string literal: %T", call.Args[0])
			return true
		}
		pattern, _ := strconv.Unquote(lit.Value)
		out = append(out, pattern)
		return true
	})
	if len(out) < 10 {
		tb.Fatalf("found only %d routes in routes.go: %v", len(out), out)
	}
	return out
}

type openAPIDoc struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
}

type openAPIOperation struct {
	OperationID string `json:"operationId"`
	Parameters  []struct {
		Name string `json:"name"`
		In   string `json:"in"`
	} `json:"parameters"`
	Responses map[string]json.RawMessage `json:"responses"`
}

func TestOpenAPI(t *testing.T) {
	env := newTestEnv(t)
	resp, err := env.Client().Get(env.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc openAPIDoc
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /api/v1/openapi.json = %d, %v", resp.StatusCode, err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("openapi %q served as %q", doc.OpenAPI, resp.Header.Get("Content-Type"))
	}

	t.Run("every API route described", func(t *testing.T) {
		routes := map[string]bool{}
		for _, pattern := range registeredRoutes(t) {
			method, path, ok := strings.Cut(pattern, " ")
			if !ok || !strings.HasPrefix(path, "/api/v1/") {
				continue
			}
			routes[strings.ToLower(method)+" "+path] = true
			if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
				t.Errorf("%s is registered in routes.go but missing from openapi.json", pattern)
			}
		}
		for path, ops := range doc.Paths {
			for method := range ops {
				if !routes[method+" "+path] {
					t.Errorf("openapi.json describes %s %s, which routes.go does not register", strings.ToUpper(method), path)
				}
			}
		}
	})

	t.Run("operations well formed", func(t *testing.T) {
		ids := map[string]string{}
		wildcard := regexp.MustCompile(`\{([^}]+)\}`)
		for path, ops := range doc.Paths {
			for method, raw := range ops {
				var op openAPIOperation
				if err := json.Unmarshal(raw, &op); err != nil {
					t.Errorf("%s %s: %v", method, path, err)
					continue
				}
				where := strings.ToUpper(method) + " " + path
				if op.OperationID == "" || ids[op.OperationID] != "" {
					t.Errorf("%s: operationId %q missing or also used by %s", where, op.OperationID, ids[op.OperationID])
				}
				ids[op.OperationID] = where
				if len(op.Responses) == 0 {
					t.Errorf("%s: no responses", where)
				}
				declared := map[string]bool{}
				for _, p := range op.Parameters {
					if p.In == "path" {
						declared[p.Name] = true
					}
				}
				for _, m := range wildcard.FindAllStringSubmatch(path, -1) {
					if !declared[m[1]] {
						t.Errorf("%s: path parameter %s not declared", where, m[1])
					}
				}
			}
		}
	})

	// Every operation that reads or writes the store can meet it down (503
	// with Retry-After), and every operation behind a token can meet the
	// failed-token throttle (429): a client generated from the document
	// must know both.
	t.Run("failure answers described", func(t *testing.T) {
		for path, ops := range doc.Paths {
			for method, raw := range ops {
				if path == "/api/v1/openapi.json" || method == "options" {
					continue
				}
				var op struct {
					openAPIOperation
					Security *[]map[string][]string `json:"security"`
				}
				if err := json.Unmarshal(raw, &op); err != nil {
					t.Fatal(err)
				}
				where := strings.ToUpper(method) + " " + path
				if op.Responses["503"] == nil {
					t.Errorf("%s: no 503 answer", where)
				}
				secured := op.Security == nil || len(*op.Security) > 0 // none given: the document's default, a token
				if secured && (op.Responses["401"] == nil || op.Responses["429"] == nil) {
					t.Errorf("%s: behind a token but no 401 or 429 answer", where)
				}
			}
		}
	})

	t.Run("references resolve", func(t *testing.T) {
		resp, err := env.Client().Get(env.URL + "/api/v1/openapi.json")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var full map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&full); err != nil {
			t.Fatal(err)
		}
		var missing []string
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				if ref, ok := x["$ref"].(string); ok && !resolves(full, ref) {
					missing = append(missing, ref)
				}
				for _, c := range x {
					walk(c)
				}
			case []any:
				for _, c := range x {
					walk(c)
				}
			}
		}
		walk(full)
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("unresolved references: %v", missing)
		}
	})
}

// resolves reports whether a local JSON pointer such as
// "#/components/schemas/Alert" names something in doc.
func resolves(doc map[string]any, ref string) bool {
	path, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return false
	}
	var cur any = doc
	for _, part := range strings.Split(path, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}
