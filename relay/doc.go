// Package relay is tickcast's relay tier (DESIGN.md, "The one idea": a relay
// is a subscriber's front end joined to a publisher's back end).
//
// A [Relay] carries one or more channels. Per channel it runs an
// [intake.Intake] (a hub reads the publisher's A/B multicast lines; an edge
// holds QUIC links to one or two upstream relays, an A path and a B path,
// arbitrated like two lines), hands every in-order packet, unchanged but for
// the retransmission flag and with the publisher's send time kept, to an
// [egress.Egress] (retransmit cache, local A/B re-multicast, the QUIC link
// server's per-downstream queues), and keeps a [feed.State] of the books so
// that late joiners and restarted edges recover by snapshot from the nearest
// relay instead of from the publisher.
//
// The relay invents no sequence numbers: heartbeats it sends while nothing
// else is forwarded carry the upstream session and the next sequence the
// upstream announced, so downstreams see tail loss; an end of session passes
// through. A relay whose upstream went silent sends no heartbeat, so its
// downstreams see the outage as theirs.
//
// Every hop answers NACKs from its cache, on its LAN over UDP and on its
// links. A NACK for a sequence the relay has not received yet waits (on a
// link) until the relay's own arbiter, which asked upstream once for all its
// downstreams, fills it; one for a sequence older than the cache is forwarded
// upstream once, coalesced, and the answer is passed down.
//
// One process owns one UDP retransmit server and one link server for all its
// channels.
package relay
