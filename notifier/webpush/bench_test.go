package webpush

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"

	"flashwire/internal/pushtest"
	"flashwire/subscribers"
)

// benchSubscriptions is how many subscriptions BenchmarkOneAlert stores.
const benchSubscriptions = 100_000

// BenchmarkOneAlert sends one alert to 100,000 stored subscriptions, one
// reader each, through the whole path of one instance (dispatch, jobs,
// snapshot, claims, encryption, VAPID, POST, outcomes, figures) to the
// stand-in push service on loopback, which answers 201 without decrypting.
// In the same run it measures a floor: a bare loop of the same library's
// encrypt-and-POST to the same subscriptions with the same concurrency, no
// queue or bookkeeping. Run it with -benchtime=1x.
func BenchmarkOneAlert(b *testing.B) {
	if testing.Short() {
		b.Skip("stores 100,000 subscriptions")
	}
	e := newEnv(b)
	e.push.Decrypt = false
	subs := make([]pushtest.Subscription, benchSubscriptions)
	start := time.Now()
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for i := int(next.Add(1) - 1); i < len(subs); i = int(next.Add(1) - 1) {
				id := subscribers.NewReaderID()
				if _, _, err := e.store.PutReader(ctx, id, subscribers.Preferences{Topics: []string{"world"}}); err != nil {
					b.Error(err)
					return
				}
				subs[i] = e.push.Subscribe(b)
				if _, _, err := e.store.AddPush(ctx, id, subscribers.PushSubscription{Endpoint: subs[i].Endpoint,
					Keys: subscribers.PushKeys{P256dh: subs[i].P256dh, Auth: subs[i].Auth}}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.Logf("stored %d subscriptions in %v", len(subs), time.Since(start).Round(time.Second))
	client := e.client(b, 10*time.Second)

	// The floor: the library alone, as many in flight as the sender lets
	// one push service have.
	payload := Payload("alert.published", breaking)
	var failed atomic.Int64
	next.Store(0)
	start = time.Now()
	for range DefaultPerHost {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(subs); i = int(next.Add(1) - 1) {
				resp, err := webpush.SendNotification(payload[:len(payload):len(payload)], &webpush.Subscription{Endpoint: subs[i].Endpoint,
					Keys: webpush.Keys{P256dh: subs[i].P256dh, Auth: subs[i].Auth}},
					&webpush.Options{HTTPClient: client, Subscriber: "newsdesk@example.com", TTL: 3600, Topic: "bench",
						Urgency: webpush.UrgencyHigh, VAPIDPublicKey: e.keys.Public, VAPIDPrivateKey: e.keys.Private})
				if err != nil || resp.StatusCode != 201 {
					failed.Add(1)
				}
				if err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	floor := time.Since(start)
	if failed.Load() > 0 {
		b.Fatalf("floor: %d pushes failed", failed.Load())
	}
	floorRate := float64(len(subs)) / floor.Seconds()
	b.Logf("floor: %d pushes in %v, %.0f/s", len(subs), floor.Round(time.Millisecond), floorRate)

	e.start(b, e.sender(b, Options{Timeout: 10 * time.Second, Lease: DefaultLease}))
	for b.Loop() {
		before := e.push.Answered()
		start = time.Now()
		a := e.publish(b, breaking)
		for e.push.Answered() < before+len(subs) {
			time.Sleep(5 * time.Millisecond)
		}
		last := time.Since(start)
		rate := float64(len(subs)) / last.Seconds()
		b.ReportMetric(rate, "pushes/s")
		b.ReportMetric(float64(last.Milliseconds()), "ms-to-last")
		b.ReportMetric(floorRate, "floor-pushes/s")
		b.ReportMetric(rate/floorRate, "x-floor")
		b.Logf("alert %s: %d pushes, the last %v after the publish: %.0f/s, %.2fx the floor", a.ID, len(subs), last.Round(time.Millisecond), rate, rate/floorRate)
	}
}
