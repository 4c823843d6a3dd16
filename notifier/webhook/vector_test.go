package webhook

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// TestDocumentedVector checks the test vector docs/webhooks.md gives
// partners: Sign gives its signature, and so does the official library.
func TestDocumentedVector(t *testing.T) {
	doc, err := os.ReadFile("../../docs/webhooks.md")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)### Test vector\n.*?```text\n(.*?)```").FindSubmatch(doc)
	if block == nil {
		t.Fatal("docs/webhooks.md has no test vector block")
	}
	v := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(block[1])), "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("vector line %q is not key: value", line)
		}
		v[key] = strings.TrimSpace(value)
	}
	unix, err := strconv.ParseInt(v["webhook-timestamp"], 10, 64)
	if err != nil {
		t.Fatalf("webhook-timestamp %q: %v", v["webhook-timestamp"], err)
	}
	ts, body := time.Unix(unix, 0), []byte(v["body"])
	got, err := Sign(v["webhook-id"], ts, body, v["secret"])
	if err != nil {
		t.Fatal(err)
	}
	if got != v["webhook-signature"] {
		t.Errorf("Sign gives %s, the documentation says %s", got, v["webhook-signature"])
	}
	wh, err := standardwebhooks.NewWebhook(v["secret"])
	if err != nil {
		t.Fatal(err)
	}
	lib, err := wh.Sign(v["webhook-id"], ts, body)
	if err != nil || lib != v["webhook-signature"] {
		t.Errorf("the official library gives %s (%v), the documentation says %s", lib, err, v["webhook-signature"])
	}
}
