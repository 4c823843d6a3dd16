// Package subscribers keeps what readers and partner sites asked for, in
// Redis, and the topic and region taxonomy those preferences are checked
// against; it finds and counts the readers and partners an alert reaches.
//
// Preferences.Matches is the one matching rule. Stored readers are also
// indexed so that an audience is counted and listed by set algebra in Redis,
// never by a scan: each reader holds a small integer slot, and every index
// is a bitmap with the reader's slot bit set. Each dimension (topics,
// regions, languages, minimum priority) puts a reader either in its "any"
// bitmap or in one bitmap per value, so the readers of an alert are
//
//	(any-topic OR topic:t...) AND (any-region OR region:r...) AND
//	(any-lang OR lang:l) AND (prio:any OR prio:p for p at or below the alert's)
//
// where the region term is left out for an alert with no regions, which is
// for every region,
// less the readers paused at that time (the pausing bitmap less the pauses
// ended by then) and those whose quiet hours hold then; the quiet-hours bitmaps, one per distinct spec, are chosen in Go,
// which knows the time zones. One script does all of it, so a count never
// sees half a write.
//
// The reader index is spread over shards (Store.Shards, 16 by default,
// fixed per installation): a reader lives in shard N, chosen by a stable
// hash of its id, with its own hash tag {readers:N}, so that a Redis
// Cluster spreads the shards over its masters. Every reader script runs in
// one shard; counting and matching run the audience script on every shard
// in parallel and add up. The embedded and single-Redis set-ups use the
// same shards.
//
// Keys (hash tags keep each group in one Redis Cluster slot, so its
// multi-key scripts and transactions run on Cluster; the reader scripts
// also touch undeclared keys of their own slot, which Cluster allows):
//
//	flashwire:v1:{taxonomy}:topics            set of topic slugs
//	flashwire:v1:{taxonomy}:regions           set of region slugs
//	flashwire:v1:{taxonomy}:seeded            set once the defaults were written
//	flashwire:v1:{alerts}:taxonomy:version    bumped after every taxonomy change; under the
//	                                          alerts' tag so that the log's append compares it
//	                                          with a publish's cached copy (taxonomy_cache.go)
//
//	flashwire:v1:{readers}:shards             the shard count the installation was started with
//
// and in each shard N (the {readers:N} part is written {R} below):
//
//	flashwire:v1:{R}:reader:ID          "slot|created|seen|preferences JSON" (times in Unix ms);
//	                                    expires ReaderTTL after the last touch
//	flashwire:v1:{R}:ids                hash slot -> reader id
//	flashwire:v1:{R}:next               next never-used slot
//	flashwire:v1:{R}:cap                slots every index bitmap is sized for (grows by 65536)
//	flashwire:v1:{R}:free               set of slots freed by deleted readers, used first
//	flashwire:v1:{R}:seen               sorted set slot by last seen (ms): what Sweep expires
//	flashwire:v1:{R}:paused             sorted set slot by paused-until (ms)
//	flashwire:v1:{R}:pausing            bitmap of the readers in "paused"
//	flashwire:v1:{R}:any-topic          bitmap of readers who named no topic
//	flashwire:v1:{R}:topic:SLUG         bitmap of readers who named the topic
//	flashwire:v1:{R}:any-region, region:SLUG, any-lang, lang:BASE (primary subtag)
//	flashwire:v1:{R}:prio:any|normal|urgent|flash   bitmap by minimum priority
//	flashwire:v1:{R}:quiet:TZ|HH:MM|HH:MM|flash|none  bitmap of readers with those quiet hours
//	flashwire:v1:{R}:quiet-specs        hash quiet spec -> readers using it (0 deletes it)
//	flashwire:v1:{R}:push               hash slot -> the reader's Web Push subscriptions (push.go)
//	flashwire:v1:{R}:push-any           bitmap of readers with a push subscription
//	flashwire:v1:{R}:pushn:0..3         bit planes of how many push subscriptions each reader holds
//	flashwire:v1:{R}:indexes            set of every index bitmap's key
//	flashwire:v1:{R}:tmp:a|b|x          scratch of the audience script, deleted before it returns
//
//	flashwire:v1:{partners}:all               hash partner id -> JSON
//	flashwire:v1:{partners}:version           bumped by every partner change
//
// Earlier versions kept every reader under the one tag {readers}; on start,
// InitShards moves such readers into their shards once and deletes the old
// keys (migrate.go). A shard of a million readers takes about 0.6 GB; 16
// shards let a Cluster hold tens of millions (BENCHMARKS.md).
//
// Stale readers leave the indexes by Sweep (RunSweeper runs it on a timer):
// their records expire by TTL, and the sweep clears their slot in every
// bitmap listed in "indexes", which needs no copy of their preferences.
//
// Partners are few: each instance caches the list and checks the version
// key (one GET) before using it, reloading when another instance changed it.
//
// It is the leaf of Flashwire: it must never import the other packages, and
// knows of an alert only the fields it matches on. It must never scan the
// readers to match an alert.
package subscribers
