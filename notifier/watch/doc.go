// Package watch polls newsroom feeds (RSS 2.0, Atom, JSON Feed and IPTC
// ninjs), finds the stories a source's rule flags as breaking, and hands
// each one exactly once to notifier.Service: at once in auto mode, or after
// an editor's click in hold mode. It owns the feed sources, their fetch
// state, the per-story records that make "exactly once" hold across
// instances, the held-story queue and the per-source polling lease.
//
// Keys, all under one hash tag so the scripts that touch several of them run
// on Redis Cluster:
//
//	flashwire:v1:{watch}:sources        hash: source id -> source JSON
//	flashwire:v1:{watch}:state:ID       hash: fetch state of one source (etag, errors, counts)
//	flashwire:v1:{watch}:lease:ID       instance id of the poller of one source, with expiry
//	flashwire:v1:{watch}:story:KEY      hash: what became of one story (state, alert id, headline)
//	flashwire:v1:{watch}:held           sorted set of held story keys by time held (ms)
//	flashwire:v1:{watch}:changed        pub/sub channel: sources changed, reload
//
// A story's KEY is a hash of its identity: the item's guid or ninjs uri (or
// its link when it has neither). An identity that is not a URI is scoped to
// its source, so two agencies numbering items alike do not collide.
//
// A story is claimed in Redis before it is published, and the claim is
// given back when publishing fails. An instance that dies between the two
// leaves the claim "pending": the story is then never pushed rather than
// perhaps pushed twice. For a push notification, missing one is the lesser
// harm.
//
// It must never write the alert log itself (every alert goes through
// notifier.Service, which validates it), never push a story twice, and
// never let one slow or broken feed hold up another.
package watch
