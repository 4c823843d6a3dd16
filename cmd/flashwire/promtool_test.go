package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"flashwire/internal/redistest"
)

// TestPrometheusRules runs Prometheus's own checks on the deployment's
// files: the configuration with the rules it loads, and the rules' unit
// tests (each alert firing, and staying quiet, on made-up series).
func TestPrometheusRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		redistest.Missing(t, "promtool (apt-get install prometheus, or run make test)")
	}
	dir := filepath.Join(repoRoot, "docs", "deploy")
	for _, args := range [][]string{
		{"check", "config", "prometheus.yml"},
		{"check", "rules", "prometheus-rules.yml"},
		{"test", "rules", "prometheus-rules.test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
