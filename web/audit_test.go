package web

import (
	"fmt"
	"strings"
	"testing"
)

func TestAudit(t *testing.T) {
	env := newAlertEnv(t, alertEnvOptions{})
	_, a := env.do(t, "POST", "/api/v1/alerts", env.editor, story(1))
	id := a["id"].(string)
	env.do(t, "POST", "/api/v1/alerts?dry_run=true", env.editor, story(2))
	env.do(t, "POST", "/api/v1/alerts/"+id+"/retract", env.editor, nil)
	env.do(t, "POST", "/api/v1/alerts", "", story(3))
	env.do(t, "POST", "/api/v1/alerts", env.editor, with(story(4), "url", "bad"))

	code, body := env.do(t, "GET", "/api/v1/audit", env.editor, nil)
	if code != 200 {
		t.Fatalf("audit = %d %v", code, body)
	}
	var got []string
	for _, e := range body["entries"].([]any) {
		m := e.(map[string]any)
		got = append(got, fmt.Sprintf("%v|%v|%v|%v", m["token_name"], m["action"], m["target"], m["status"]))
		if m["at"] == nil || m["request_id"] == "" {
			t.Errorf("entry lacks time or request id: %v", m)
		}
	}
	// Newest first; the dry run and the unauthenticated attempt are not
	// actions. The first entry is the bootstrap admin creating the
	// editor's token.
	want := []string{
		"night desk|POST /api/v1/alerts|<nil>|400",
		"night desk|POST /api/v1/alerts/{id}/retract|" + id + "|200",
		"night desk|POST /api/v1/alerts|" + id + "|201",
	}
	if len(got) != 4 || strings.Join(got[:3], "\n") != strings.Join(want, "\n") || !strings.HasPrefix(got[3], "bootstrap|POST /api/v1/tokens|tok_") {
		t.Fatalf("audit entries:\n%s\nwant:\n%s\n(then the token creation)", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	t.Run("pages", func(t *testing.T) {
		_, p1 := env.do(t, "GET", "/api/v1/audit?limit=3", env.editor, nil)
		next, _ := p1["next"].(string)
		_, p2 := env.do(t, "GET", "/api/v1/audit?limit=3&before="+next, env.editor, nil)
		if list, _ := p2["entries"].([]any); len(list) != 1 || p2["next"] != "" {
			t.Fatalf("second page %v", p2)
		}
	})
}
