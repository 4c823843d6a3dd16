package webhook

import (
	"context"
	"testing"
	"time"

	"flashwire/internal/redistest"
)

func TestSecretRotation(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	clk := &clock{t: time.Now()}
	s := NewSecrets(rdb)
	s.Now = clk.Now
	if _, err := s.Signing(ctx, "pt_a"); err == nil {
		t.Fatal("a partner without a secret signs")
	}
	first, _ := s.Create(ctx, "pt_a")
	second, err := s.Rotate(ctx, "pt_a", DefaultGrace)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.Signing(ctx, "pt_a")
	if len(got) != 2 || got[0] != second || got[1] != first {
		t.Fatalf("during the grace period signing with %v", got)
	}
	clk.Advance(DefaultGrace)
	if got, _ := s.Signing(ctx, "pt_a"); len(got) != 1 || got[0] != second {
		t.Fatalf("after the grace period signing with %v", got)
	}
	third, _ := s.Rotate(ctx, "pt_a", time.Hour)
	if err := s.RevokePrevious(ctx, "pt_a"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Signing(ctx, "pt_a"); len(got) != 1 || got[0] != third {
		t.Fatalf("after revoking signing with %v", got)
	}
	fourth, _ := s.Rotate(ctx, "pt_a", 0)
	if got, _ := s.Signing(ctx, "pt_a"); len(got) != 1 || got[0] != fourth {
		t.Fatalf("after a rotation without grace signing with %v", got)
	}
}
