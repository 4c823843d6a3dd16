package webhook

import (
	"testing"
	"time"
)

func TestBreaker(t *testing.T) {
	now := time.Date(2026, 11, 26, 22, 0, 0, 0, time.UTC)
	b := newBreaker(3, 30*time.Second, 2)

	t.Run("Limit", func(t *testing.T) {
		ok1, _ := b.acquire("a", now)
		ok2, _ := b.acquire("a", now)
		ok3, _ := b.acquire("a", now)
		okOther, _ := b.acquire("b", now)
		if !ok1 || !ok2 || ok3 || !okOther {
			t.Fatalf("acquire = %v %v %v, other %v; want two slots for a, b unaffected", ok1, ok2, ok3, okOther)
		}
		b.release("a", true, now)
		b.release("a", true, now)
		b.release("b", true, now)
	})
	t.Run("Opens", func(t *testing.T) {
		for range 3 {
			if ok, _ := b.acquire("a", now); !ok {
				t.Fatal("refused before the threshold")
			}
			b.release("a", false, now)
		}
		ok, until := b.acquire("a", now.Add(10*time.Second))
		if ok || !until.Equal(now.Add(30*time.Second)) {
			t.Fatalf("open circuit: acquire = %v until %v", ok, until)
		}
	})
	t.Run("HalfOpen", func(t *testing.T) {
		later := now.Add(31 * time.Second)
		ok1, _ := b.acquire("a", later)
		ok2, _ := b.acquire("a", later)
		if !ok1 || ok2 {
			t.Fatalf("after the cooldown: %v %v; want exactly one probe", ok1, ok2)
		}
		b.release("a", true, later)
		ok3, _ := b.acquire("a", later)
		ok4, _ := b.acquire("a", later)
		if !ok3 || !ok4 {
			t.Fatal("a successful probe must close the circuit")
		}
	})
}
