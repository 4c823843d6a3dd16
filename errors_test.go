package flashwire

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestErrorKinds(t *testing.T) {
	conflict := NewError(ErrConflict, "alert %s already retracted", "1-0")
	wrapped := fmt.Errorf("retract: %w", conflict)
	if !errors.Is(wrapped, ErrConflict) || errors.Is(wrapped, ErrNotFound) {
		t.Fatalf("errors.Is must find the kind through wrapping, and only it")
	}
	if wrapped.Error() != "retract: alert 1-0 already retracted" {
		t.Fatalf("message = %q", wrapped.Error())
	}
	bad := Invalid("headline", "is required")
	if !errors.Is(fmt.Errorf("publish: %w", bad), ErrInvalid) {
		t.Fatal("an *InvalidError is of kind ErrInvalid")
	}
	var inv *InvalidError
	if !errors.As(fmt.Errorf("publish: %w", bad), &inv) || inv.Fields[0].Field != "headline" {
		t.Fatal("the fields at fault must be reachable through wrapping")
	}
}

func TestInvalidError(t *testing.T) {
	var e InvalidError
	if e.Err() != nil {
		t.Fatal("an empty InvalidError is no error")
	}
	e.RequiredText("headline", "", 10)
	e.RequiredText("summary", "abcdefghijk", 10)
	e.RequiredText("name", "ok\xff", 10)
	if got, want := e.Err().Error(), "invalid input: headline is required; summary is 11 characters; at most 10 allowed; name is not valid UTF-8"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
}

// waitError knows when to retry, as notifier.TooSoonError does.
type waitError struct{ d time.Duration }

func (w waitError) Error() string       { return "wait" }
func (w waitError) Wait() time.Duration { return w.d }

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want time.Duration
		ok   bool
	}{
		// An Error with a wait.
		{"OK", &Error{Kind: ErrUnavailable, Message: "store down", Retry: 2 * time.Second}, 2 * time.Second, true},
		// Found through wrapping.
		{"OK wrapped", fmt.Errorf("x: %w", waitError{3 * time.Second}), 3 * time.Second, true},
		// Found through errors.Join.
		{"OK joined", errors.Join(errors.New("a"), waitError{time.Second}), time.Second, true},
		// No wait given.
		{"none", NewError(ErrTooMany, "slow down"), 0, false},
		{"nil", nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := RetryAfter(tt.err)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("RetryAfter = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
