package flashwire

import (
	"testing"
	"time"
)

func TestEventIDs(t *testing.T) {
	valid := []string{"0-0", "1732650000000-0", "1732650000000-17"}
	for _, id := range valid {
		if !ValidEventID(id) {
			t.Errorf("ValidEventID(%q) = false, want true", id)
		}
	}
	invalid := []string{"", "-", "1732650000000", "1732650000000-", "-0", "a-0", "1-b", "1-2-3", "+1-0", " 1-0"}
	for _, id := range invalid {
		if ValidEventID(id) {
			t.Errorf("ValidEventID(%q) = true, want false", id)
		}
	}
}

func TestCompareEventIDs(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1-0", "1-0", 0},
		{"1-0", "2-0", -1},
		{"2-0", "1-0", 1},
		{"5-9", "5-10", -1},     // numbers, not text: 9 < 10
		{"999-0", "1000-0", -1}, // numbers, not text
		{"1000-0", "999-99", 1}, // milliseconds first
		{"bad", "0-0", 0},       // an invalid id orders as 0-0
	}
	for _, tt := range tests {
		if got := CompareEventIDs(tt.a, tt.b); got != tt.want {
			t.Errorf("CompareEventIDs(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestEventTime(t *testing.T) {
	want := time.Date(2024, 11, 26, 19, 40, 0, 0, time.UTC)
	if got := EventTime("1732650000000-3"); !got.Equal(want) || got.Location() != time.UTC {
		t.Fatalf("EventTime = %v, want %v in UTC", got, want)
	}
	if got := EventTime("nonsense"); !got.IsZero() {
		t.Fatalf("EventTime of an invalid id = %v, want the zero time", got)
	}
}
