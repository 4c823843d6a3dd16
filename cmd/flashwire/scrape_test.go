package main

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// errNoMetric is metricValue's answer for a series the instance lacks.
var errNoMetric = errors.New("no such series")

// metricValue returns the value of one series (name and labels exactly as
// exposed) on the instance at addr, -1 when it is absent.
func metricValue(tb testing.TB, addr, series string) float64 {
	tb.Helper()
	v, err := scrapeSeries(addr, series)
	if errors.Is(err, errNoMetric) {
		return -1
	}
	if err != nil {
		tb.Fatalf("scrape %s: %v", addr, err)
	}
	return v
}

func scrapeSeries(addr, series string) (float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			var v float64
			_, err := fmt.Sscan(rest, &v)
			return v, err
		}
	}
	return 0, errNoMetric
}

// exposed is what /metrics shows: sample names (with _bucket, _sum and
// _count of histograms) and metric family names.
type exposed struct {
	samples, families map[string]bool
}

func scrapeNames(tb testing.TB, addr string) exposed {
	tb.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	e := exposed{samples: map[string]bool{}, families: map[string]bool{}}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			e.families[strings.Fields(rest)[0]] = true
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			e.samples[line[:i]] = true
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return e
}
