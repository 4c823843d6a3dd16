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
//	flashwire:v1:{watch}:story:KEY      hash: what became of one story (state, alert id, last
//	                                    headline sent, draft of the version to send, when its
//	                                    state changed, why it is held, retraction and update
//	                                    attempts, the last error and a headline given up on)
//	flashwire:v1:{watch}:held           sorted set of held story keys by time held (ms)
//	flashwire:v1:{watch}:outcomes:ID    list: the source's last 200 outcomes of breaking stories
//	                                    (JSON), newest first, kept as long as story records
//	flashwire:v1:{watch}:everyday:ID    list: the same for its last 200 everyday items, skipped
//	                                    as not flagged, so they never push the others out
//	flashwire:v1:{watch}:decided:ID     hash: story KEY -> its last outcome's signature, so a
//	                                    feed polled again does not repeat an outcome; pruned
//	                                    to the stories in the feed
//	flashwire:v1:{watch}:changed        pub/sub channel: sources changed, reload
//
// A story's KEY is a hash of its identity: the item's guid or ninjs uri (or
// its link when it has neither). An identity that is not a URI is scoped to
// its source, so two agencies numbering items alike do not collide.
//
// A story is claimed in Redis before it is published ("pending"), and
// published under a once key derived from its KEY (notifier.PublishOptions.
// Once), so that the alert log itself refuses to carry it twice. A claim
// whose instance died is taken over by the first poll after the claim's
// lease (Config.LeaseTTL) that still lists the story, whatever the feed now
// says of it. That poll first reads in the alert log whether the once key
// published an alert. If it did, the alert becomes the story's ("pushed")
// and the feed's current version applies to it as to any pushed story: a
// canceled story is retracted, a new headline sent as an update. If not, a
// canceled story is marked so it is never pushed, a withheld one keeps its
// claim until it is released, and a usable one is published. An editor's
// send ("sending") that never finished is taken over the same way: its
// alert, if it went out, becomes the story's; otherwise the story returns
// to the held queue. A publish that fails marks its claim stale so the
// next poll retries it.
//
// A canceled story's alert is retracted the same way: the story is first
// marked "retracting", then notifier.Service.Retract is called, then the
// story is recorded "retracted". A mark whose instance died is taken over
// by the first poll after the lease that still lists the story, whatever
// the feed now says of it, and the retraction is tried again; an alert
// found already retracted (notifier.ErrRetracted: the dead instance got
// that far) only completes the record, so a retraction goes out once. A
// retraction that fails leaves the mark stale so the next poll retries it,
// up to a bounded number of attempts (an instance dying in it spends one);
// then the story is marked "unretracted", no longer retried, and every
// poll that lists it sets the source's last_error to say which alert is
// still up and why, until the alert is retracted by other means.
//
// A new headline of a pushed story goes out the same way: the story is
// first marked "updating" with the new version as its draft, keeping the
// last headline sent, then notifier.Service.Update is called, then the new
// headline is recorded as sent ("pushed" again). A mark whose instance died
// is taken over by the first poll after the lease that still lists the
// story: a canceled story is retracted instead; otherwise the feed's
// current version is sent, or the recorded draft when the feed's cannot be
// (withheld now, or without a headline). Before each update the alert's
// current headline is read from the alert log: an alert already carrying
// it (the dead instance got that far) only completes the record, so an
// update goes out once. An update that fails leaves the mark stale so the
// next poll retries it, up to a bounded number of attempts (an instance
// dying in it spends one); then the story is "pushed" again with the last
// headline sent, and every poll that lists it with the headline given up on
// sets the source's last_error to say which alert did not get which
// headline and why, until the feed's headline changes or the alert carries
// it by other means. The story can still be retracted meanwhile.
//
// Stories go out behind the newsroom's guards (notifier.Service.PublishOnce),
// as editors' alerts do. In auto mode a story that duplicates an alert sent
// lately is recorded as that alert, so the story's updates and retraction
// reach it; a non-flash story within the minimum gap between pushes is moved
// to the held queue with the reason, for an editor to decide. An editor's
// send of a held story gets the guard's error back and the story stays
// held.
//
// Each version of a story ends in one outcome, recorded per source
// (Outcomes): pushed, held (hold mode, no public link, an invalid field,
// the minimum gap), skipped (not flagged, too old, embargoed, withheld,
// canceled, a duplicate), updated or retracted. Freshness is decided per
// version: a record saying a version was too old ("old") is replaced by a
// newer fresh version's claim, so it blocks nothing. A reader's link is the
// source's link template or the item's own public web link, never a ninjs
// uri (link.go).
//
// Metrics (Config.Registry): flashwire_watch_polls_total{outcome},
// flashwire_watch_items_seen_total, flashwire_watch_alerts_total,
// flashwire_watch_held_total{reason},
// flashwire_watch_story_outcomes_total{source,outcome},
// flashwire_watch_leases_held and flashwire_watch_sources_failing.
//
// It must never write the alert log itself (every alert goes through
// notifier.Service, which validates it), never publish a story but under
// its once key, and never let one slow or broken feed hold up another.
package watch
