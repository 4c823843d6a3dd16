package subscribers

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
)

// testSubscription returns a valid subscription at endpoint.
func testSubscription(tb testing.TB, endpoint string) PushSubscription {
	tb.Helper()
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	auth := make([]byte, 16)
	_, _ = rand.Read(auth)
	return PushSubscription{Endpoint: endpoint, Keys: PushKeys{
		P256dh: base64.RawURLEncoding.EncodeToString(key.PublicKey().Bytes()),
		Auth:   base64.RawURLEncoding.EncodeToString(auth),
	}}
}

func TestPushSubscriptionValidate(t *testing.T) {
	good := testSubscription(t, "https://push.example.net/send/abc")
	for _, tt := range []struct {
		name   string
		change func(p *PushSubscription)
		fields string
	}{
		// A browser's subscription as the Push API gives it.
		{"OK", func(p *PushSubscription) {}, ""},
		// Padding and surrounding space are tolerated.
		{"padded", func(p *PushSubscription) { p.Keys.Auth += "==" }, ""},
		{"no endpoint", func(p *PushSubscription) { p.Endpoint = "" }, "endpoint"},
		// Push services are reached over https only.
		{"http endpoint", func(p *PushSubscription) { p.Endpoint = "http://push.example.net/x" }, "endpoint"},
		{"credentials", func(p *PushSubscription) { p.Endpoint = "https://u:p@push.example.net/x" }, "endpoint"},
		{"space", func(p *PushSubscription) { p.Endpoint = "https://push.example.net/a b" }, "endpoint"},
		// 65 bytes that are not a point of the curve.
		{"not a point", func(p *PushSubscription) {
			b := make([]byte, 65)
			b[0] = 4
			p.Keys.P256dh = base64.RawURLEncoding.EncodeToString(b)
		}, "keys.p256dh"},
		// A compressed point (33 bytes) is not what browsers send.
		{"compressed", func(p *PushSubscription) { p.Keys.P256dh = p.Keys.P256dh[:44] }, "keys.p256dh"},
		{"not base64url", func(p *PushSubscription) { p.Keys.P256dh = "a+b/" }, "keys.p256dh"},
		{"short auth", func(p *PushSubscription) { p.Keys.Auth = "AAAA" }, "keys.auth"},
		{"every field", func(p *PushSubscription) { *p = PushSubscription{} }, "endpoint,keys.p256dh,keys.auth"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := good
			tt.change(&p)
			p.Normalize()
			var bad flashwire.InvalidError
			p.Validate(&bad)
			if got := fields(bad.Err()); got != tt.fields {
				t.Fatalf("fields at fault %q, want %q (%v)", got, tt.fields, bad.Err())
			}
		})
	}
}

func testPush(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s := newStore(t, rdb, &now)
	world := flashwire.Attrs{Topics: []string{"world"}, Language: "en", Priority: flashwire.Urgent}
	reader := NewReaderID()
	if _, _, err := s.AddPush(ctx, reader, testSubscription(t, "https://push.example.net/a")); !errors.Is(err, flashwire.ErrNotFound) {
		t.Fatalf("AddPush for an unknown reader = %v", err)
	}
	if _, _, err := s.PutReader(ctx, reader, Preferences{Topics: []string{"world"}}); err != nil {
		t.Fatal(err)
	}
	var subs []PushSubscription
	for i := range MaxPushPerReader {
		now = now.Add(time.Second)
		sub, created, err := s.AddPush(ctx, reader, testSubscription(t, "https://push.example.net/"+strconv.Itoa(i)))
		if err != nil || !created {
			t.Fatalf("AddPush %d = %v, %v", i, created, err)
		}
		subs = append(subs, sub)
	}
	count := func(want int64) {
		t.Helper()
		aud, err := s.CountAudience(ctx, world, now)
		if err != nil || aud.Readers != 1 || aud.Push != want {
			t.Fatalf("CountAudience = %+v, %v; want 1 reader with %d subscriptions", aud, err, want)
		}
	}
	count(MaxPushPerReader)

	t.Run("same endpoint replaces", func(t *testing.T) {
		again := testSubscription(t, subs[3].Endpoint)
		got, created, err := s.AddPush(ctx, reader, again)
		if err != nil || created || got.ID != subs[3].ID || !got.CreatedAt.Equal(subs[3].CreatedAt) {
			t.Fatalf("AddPush again = %+v, %v, %v", got, created, err)
		}
		list, _ := s.ReaderPush(ctx, reader)
		if len(list) != MaxPushPerReader {
			t.Fatalf("%d subscriptions, want %d", len(list), MaxPushPerReader)
		}
		for _, p := range list {
			if p.ID == got.ID && p.Keys != again.Keys {
				t.Fatalf("keys not replaced: %+v", p)
			}
		}
		count(MaxPushPerReader)
	})
	t.Run("one more replaces the oldest", func(t *testing.T) {
		now = now.Add(time.Second)
		if _, created, err := s.AddPush(ctx, reader, testSubscription(t, "https://push.example.net/new")); err != nil || !created {
			t.Fatal(err)
		}
		list, _ := s.ReaderPush(ctx, reader)
		for _, p := range list {
			if p.ID == subs[0].ID {
				t.Fatal("the oldest subscription was kept")
			}
		}
		count(MaxPushPerReader)
	})
	t.Run("preferences change keeps them", func(t *testing.T) {
		if _, _, err := s.PutReader(ctx, reader, Preferences{Topics: []string{"world", "sport"}}); err != nil {
			t.Fatal(err)
		}
		count(MaxPushPerReader)
	})
	t.Run("regions", func(t *testing.T) {
		if _, _, err := s.PutReader(ctx, reader, Preferences{Topics: []string{"world", "sport"}, Regions: []string{"europe"}}); err != nil {
			t.Fatal(err)
		}
		// world has no regions: it is for every region, Europe too.
		count(MaxPushPerReader)
		asia := world
		asia.Regions = []string{"asia"}
		if _, n, err := s.MatchPush(ctx, int(s.shard(reader)), asia, now); err != nil || n != 0 {
			t.Fatalf("MatchPush for Asia only = %d, %v; want 0", n, err)
		}
	})
	t.Run("remove", func(t *testing.T) {
		if err := s.RemovePush(ctx, reader, subs[1].ID); err != nil {
			t.Fatal(err)
		}
		if err := s.RemovePush(ctx, reader, subs[1].ID); !errors.Is(err, flashwire.ErrNotFound) {
			t.Fatalf("second remove = %v", err)
		}
		count(MaxPushPerReader - 1)
	})
	t.Run("match and drop", func(t *testing.T) {
		sh := int(s.shard(reader))
		bitmap, n, err := s.MatchPush(ctx, sh, world, now)
		if err != nil || n != MaxPushPerReader-1 {
			t.Fatalf("MatchPush = %d, %v", n, err)
		}
		targets, err := s.PushSubscriptions(ctx, sh, Slots(bitmap))
		if err != nil || len(targets) != MaxPushPerReader-1 {
			t.Fatalf("PushSubscriptions = %d, %v", len(targets), err)
		}
		bits := map[int]bool{}
		for _, tg := range targets {
			if bits[tg.Bit] || tg.Bit/MaxPushPerReader != tg.Slot {
				t.Fatalf("bit %d of slot %d repeated or outside its slot", tg.Bit, tg.Slot)
			}
			bits[tg.Bit] = true
		}
		if err := s.DropPush(ctx, targets[0]); err != nil {
			t.Fatal(err)
		}
		count(MaxPushPerReader - 2)
		// Elsewhere, nobody is matched.
		other, n, _ := s.MatchPush(ctx, sh, flashwire.Attrs{Topics: []string{"science"}, Language: "en", Priority: "urgent"}, now)
		if n != 0 || len(Slots(other)) != 0 {
			t.Fatalf("MatchPush for another topic = %d", n)
		}
	})
	t.Run("reader deleted", func(t *testing.T) {
		if err := s.DeleteReader(ctx, reader); err != nil {
			t.Fatal(err)
		}
		fresh := NewReaderID()
		for s.shard(fresh) != s.shard(reader) {
			fresh = NewReaderID()
		}
		// The new reader takes the freed slot and none of its subscriptions.
		if _, _, err := s.PutReader(ctx, fresh, Preferences{}); err != nil {
			t.Fatal(err)
		}
		aud, _ := s.CountAudience(ctx, world, now)
		if list, _ := s.ReaderPush(ctx, fresh); len(list) != 0 || aud.Push != 0 {
			t.Fatalf("new reader in the slot holds %d subscriptions, audience %+v", len(list), aud)
		}
	})
}
