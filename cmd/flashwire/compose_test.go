package main

import (
	"encoding/json"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// repoRoot is where compose.yaml and the Dockerfile live, seen from this
// package's tests.
const repoRoot = "../.."

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Networks map[string]struct {
		IPAM struct {
			Config []struct {
				Subnet string `yaml:"subnet"`
			} `yaml:"config"`
		} `yaml:"ipam"`
	} `yaml:"networks"`
}

type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context string            `yaml:"context"`
		Args    map[string]string `yaml:"args"`
	} `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	Networks    yaml.Node         `yaml:"networks"`
}

// mounts maps each container path the service mounts from the repository
// to the repository path (without "./").
func (s composeService) mounts() map[string]string {
	out := map[string]string{}
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && strings.HasPrefix(parts[0], "./") {
			out[parts[1]] = strings.TrimPrefix(parts[0], "./")
		}
	}
	return out
}

// ipv4 returns the fixed address the service has on network, if any.
func (s composeService) ipv4(network string) string {
	var m map[string]struct {
		IPv4 string `yaml:"ipv4_address"`
	}
	if s.Networks.Kind != yaml.MappingNode || s.Networks.Decode(&m) != nil {
		return ""
	}
	return m[network].IPv4
}

// publishes reports whether the service publishes container port port.
func (s composeService) publishes(port string) bool {
	for _, p := range s.Ports {
		if strings.HasSuffix(p, ":"+port) {
			return true
		}
	}
	return false
}

func readYAML(tb testing.TB, name string, v any) {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, name))
	if err != nil {
		tb.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
}

// TestComposeMatchesDeployFiles checks that compose.yaml, the nginx and
// Prometheus configurations and Grafana's provisioning name the same
// services, ports and paths, since no container engine runs here to try
// them together.
func TestComposeMatchesDeployFiles(t *testing.T) {
	var c composeFile
	readYAML(t, "compose.yaml", &c)
	want := []string{"flashwire-1", "flashwire-2", "flashwire-3", "grafana", "nginx", "prometheus", "redis"}
	if got := slices.Sorted(maps.Keys(c.Services)); !slices.Equal(got, want) {
		t.Fatalf("services %v, want %v", got, want)
	}
	for host := range c.Services {
		for _, p := range c.Services[host].mounts() {
			if _, err := os.Stat(filepath.Join(repoRoot, p)); err != nil {
				t.Errorf("%s mounts %s: %v", host, p, err)
			}
		}
	}

	t.Run("redis keeps what it acknowledged", func(t *testing.T) {
		cmd := strings.Join(c.Services["redis"].Command, " ")
		for _, setting := range []string{"--appendonly yes", "--appendfsync everysec", "--maxmemory-policy noeviction"} {
			if !strings.Contains(cmd, setting) {
				t.Errorf("redis command %q lacks %s", cmd, setting)
			}
		}
	})

	// Each instance's address as the others reach it: service:port.
	var instances []string
	nginx := c.Services["nginx"]
	nginxIP, err := netip.ParseAddr(nginx.ipv4("flashwire"))
	if err != nil {
		t.Fatalf("nginx has no fixed address on the flashwire network: %v", err)
	}
	if subnet, err := netip.ParsePrefix(c.Networks["flashwire"].IPAM.Config[0].Subnet); err != nil || !subnet.Contains(nginxIP) {
		t.Errorf("nginx's %s is outside the network's subnet (%v)", nginxIP, err)
	}
	for _, name := range want[:3] {
		addr := c.Services[name].Environment["FLASHWIRE_ADDR"]
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatalf("%s: FLASHWIRE_ADDR %q: %v", name, addr, err)
		}
		instances = append(instances, name+":"+port)
	}
	t.Run("instances", func(t *testing.T) {
		dockerfile, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range want[:3] {
			s := c.Services[name]
			env := s.Environment
			if s.Build == nil || s.Build.Context != "." {
				t.Errorf("%s is not built from this repository", name)
			} else {
				for arg := range s.Build.Args {
					if !strings.Contains(string(dockerfile), "ARG "+arg) {
						t.Errorf("%s passes build argument %s the Dockerfile does not take", name, arg)
					}
				}
			}
			if env["FLASHWIRE_INSTANCE_ID"] != name {
				t.Errorf("%s runs as instance %q", name, env["FLASHWIRE_INSTANCE_ID"])
			}
			if u, err := url.Parse(env["FLASHWIRE_REDIS_URL"]); err != nil || u.Hostname() != "redis" || u.Port() != "6379" {
				t.Errorf("%s: FLASHWIRE_REDIS_URL %q is not the redis service", name, env["FLASHWIRE_REDIS_URL"])
			}
			trusted := false
			for _, p := range strings.Split(env["FLASHWIRE_TRUSTED_PROXIES"], ",") {
				if prefix, err := netip.ParsePrefix(strings.TrimSpace(p)); err == nil && prefix.Contains(nginxIP) {
					trusted = true
				}
			}
			if !trusted {
				t.Errorf("%s does not trust nginx's %s in FLASHWIRE_TRUSTED_PROXIES %q", name, nginxIP, env["FLASHWIRE_TRUSTED_PROXIES"])
			}
		}
		for _, want := range []string{"ARG VERSION", "-X main.version=${VERSION}", "-X main.revision=${REVISION}"} {
			if !strings.Contains(string(dockerfile), want) {
				t.Errorf("Dockerfile lacks %q: the image would not know its version", want)
			}
		}
	})

	t.Run("nginx", func(t *testing.T) {
		conf, err := os.ReadFile(filepath.Join(repoRoot, "docs/deploy/nginx.conf"))
		if err != nil {
			t.Fatal(err)
		}
		upstream := regexp.MustCompile(`(?s)upstream flashwire \{(.*?)\}`).FindSubmatch(conf)
		if upstream == nil {
			t.Fatal("nginx.conf has no upstream flashwire")
		}
		var servers []string
		for _, m := range regexp.MustCompile(`server (\S+?)[ ;]`).FindAllSubmatch(upstream[1], -1) {
			servers = append(servers, string(m[1]))
		}
		if !slices.Equal(servers, instances) {
			t.Errorf("nginx upstream %v, compose instances %v", servers, instances)
		}
		if nginx.mounts()["/etc/nginx/nginx.conf"] != "docs/deploy/nginx.conf" {
			t.Errorf("nginx does not mount docs/deploy/nginx.conf as /etc/nginx/nginx.conf: %v", nginx.Volumes)
		}
		listen := regexp.MustCompile(`listen (\d+);`).FindSubmatch(conf)
		if listen == nil || !nginx.publishes(string(listen[1])) {
			t.Errorf("nginx publishes %v, not the port nginx.conf listens on", nginx.Ports)
		}
	})

	t.Run("prometheus", func(t *testing.T) {
		var prom struct {
			RuleFiles     []string `yaml:"rule_files"`
			ScrapeConfigs []struct {
				JobName       string `yaml:"job_name"`
				StaticConfigs []struct {
					Targets []string `yaml:"targets"`
				} `yaml:"static_configs"`
			} `yaml:"scrape_configs"`
		}
		readYAML(t, "docs/deploy/prometheus.yml", &prom)
		var targets []string
		for _, sc := range prom.ScrapeConfigs {
			if sc.JobName != "flashwire" {
				continue
			}
			for _, st := range sc.StaticConfigs {
				targets = append(targets, st.Targets...)
			}
		}
		if !slices.Equal(targets, instances) {
			t.Errorf("Prometheus job flashwire scrapes %v, compose instances %v", targets, instances)
		}
		s := c.Services["prometheus"]
		const config = "/etc/prometheus/prometheus.yml"
		if s.mounts()[config] != "docs/deploy/prometheus.yml" {
			t.Errorf("prometheus does not mount docs/deploy/prometheus.yml as %s: %v", config, s.Volumes)
		}
		if len(prom.RuleFiles) == 0 {
			t.Error("prometheus.yml loads no rules")
		}
		for _, rf := range prom.RuleFiles {
			in := path.Join(path.Dir(config), rf)
			if s.mounts()[in] != "docs/deploy/prometheus-rules.yml" {
				t.Errorf("rule file %s is not docs/deploy/prometheus-rules.yml in the container: %v", in, s.Volumes)
			}
		}
		if !s.publishes("9090") {
			t.Errorf("prometheus publishes %v", s.Ports)
		}
	})

	t.Run("grafana", func(t *testing.T) {
		var sources struct {
			Datasources []struct {
				UID string `yaml:"uid"`
				URL string `yaml:"url"`
			} `yaml:"datasources"`
		}
		readYAML(t, "docs/deploy/grafana/datasources.yml", &sources)
		if len(sources.Datasources) != 1 {
			t.Fatalf("%d Grafana datasources, want 1", len(sources.Datasources))
		}
		src := sources.Datasources[0]
		if u, err := url.Parse(src.URL); err != nil || u.Host != "prometheus:9090" {
			t.Errorf("Grafana datasource %q is not the prometheus service", src.URL)
		}
		var providers struct {
			Providers []struct {
				Options struct {
					Path string `yaml:"path"`
				} `yaml:"options"`
			} `yaml:"providers"`
		}
		readYAML(t, "docs/deploy/grafana/dashboards.yml", &providers)
		g := c.Services["grafana"]
		found := false
		for in, repo := range g.mounts() {
			if repo == "docs/deploy/grafana-dashboard.json" && len(providers.Providers) > 0 && path.Dir(in) == providers.Providers[0].Options.Path {
				found = true
			}
		}
		if !found {
			t.Errorf("the dashboard is not mounted where the dashboard provider looks: %v, %+v", g.Volumes, providers)
		}
		for _, p := range []string{"docs/deploy/grafana/datasources.yml", "docs/deploy/grafana/dashboards.yml"} {
			if !slices.Contains(slices.Collect(maps.Values(g.mounts())), p) {
				t.Errorf("grafana does not mount %s", p)
			}
		}
		var dash any
		b, err := os.ReadFile(filepath.Join(repoRoot, "docs/deploy/grafana-dashboard.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &dash); err != nil {
			t.Fatal(err)
		}
		uids := map[string]bool{}
		walkJSON(dash, func(key string, v any) {
			if m, ok := v.(map[string]any); ok && key == "datasource" {
				uids[m["uid"].(string)] = true
			}
		})
		if len(uids) != 1 || !uids[src.UID] {
			t.Errorf("dashboard panels use datasources %v, provisioning gives %q", uids, src.UID)
		}
	})
}

// walkJSON calls fn with every key and value under v.
func walkJSON(v any, fn func(key string, v any)) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			fn(k, x)
			walkJSON(x, fn)
		}
	case []any:
		for _, x := range v {
			walkJSON(x, fn)
		}
	}
}
