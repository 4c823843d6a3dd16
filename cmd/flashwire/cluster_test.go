package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"flashwire/internal/redistest"
)

// TestSmokeCluster runs the real binary against a three-master Redis
// Cluster named by several comma-separated URLs, publishes an alert and
// reads it back: the cluster client that cmd builds is the one in use.
func TestSmokeCluster(t *testing.T) {
	bin := buildBinary(t)
	cluster, rdb := redistest.StartCluster(t)
	const admin = "a-long-bootstrap-token-for-tests"
	_, addr, out := startBinary(t, bin, "FLASHWIRE_REDIS_URL="+cluster.URL(), "FLASHWIRE_ADMIN_TOKEN="+admin)

	body := `{"headline":"Putin, Trump Agree To Joint Efforts Against IS In Syria",
		"url":"https://news.example.com/a/28848563.html","topics":["world"],"priority":"flash"}`
	req, _ := http.NewRequest("POST", "http://"+addr+"/api/v1/alerts", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var alert struct {
		ID string `json:"id"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&alert)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || alert.ID == "" {
		t.Fatalf("publish through the binary = %d %+v\n%s", resp.StatusCode, alert, out.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if n := rdb.XLen(ctx, "flashwire:v1:{alerts}:log").Val(); n != 1 {
		t.Fatalf("the cluster's alert log holds %d events, want 1", n)
	}
}
