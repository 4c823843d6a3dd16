package outbound

import (
	"net/http"
	"testing"
	"time"
)

func TestNextRetry(t *testing.T) {
	tests := []struct {
		failed   int
		rnd      float64
		want     time.Duration
		wantMore bool
	}{
		{1, 0.5, 5 * time.Second, true},       // middle of the jitter: the plain schedule
		{1, 0, 4 * time.Second, true},         // -20 %
		{1, 0.999999, 6 * time.Second, true},  // +20 % (nearly)
		{2, 0.5, 30 * time.Second, true},      // second retry
		{3, 0.5, 2 * time.Minute, true},       // third
		{4, 0.5, 10 * time.Minute, true},      // fourth
		{5, 0.5, 30 * time.Minute, true},      // fifth
		{6, 0.5, 2 * time.Hour, true},         // sixth
		{7, 0.5, 6 * time.Hour, true},         // seventh
		{8, 0, 12 * time.Hour * 8 / 10, true}, // last retry, -20 %
		{9, 0.5, 0, false},                    // schedule spent: give up
		{0, 0.5, 0, false},                    // nonsense count
	}
	for _, tt := range tests {
		got, more := NextRetry(tt.failed, func() float64 { return tt.rnd })
		if more != tt.wantMore || (more && (got-tt.want).Abs() > 10*time.Millisecond) {
			t.Errorf("NextRetry(%d, %v) = %v, %v; want %v, %v", tt.failed, tt.rnd, got, more, tt.want, tt.wantMore)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 26, 22, 0, 0, 0, time.UTC)
	tests := []struct {
		value  string
		want   time.Duration
		wantOK bool
	}{
		{"120", 2 * time.Minute, true},                                              // seconds
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true}, // HTTP date
		{"999999999", 12 * time.Hour, true},                                         // capped
		{"", 0, false},                                                              // absent
		{"soon", 0, false},                                                          // unreadable
		{"-5", 0, false},                                                            // negative
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.value != "" {
			h.Set("Retry-After", tt.value)
		}
		got, ok := RetryAfter(h, now)
		if ok != tt.wantOK || got != tt.want {
			t.Errorf("RetryAfter(%q) = %v, %v; want %v, %v", tt.value, got, ok, tt.want, tt.wantOK)
		}
	}
}
