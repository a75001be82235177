// Package conntrack is a user-space model of Linux 6.x connection tracking
// (nf_conntrack) with default sysctls, so that a packet engine sees the
// same conntrack state (the state/conntrack match bits), direction, status
// bits, timeouts and counters as the kernel on the same packets.
//
// # Use
//
// The engine calls Track at PREROUTING (received packets) and OUTPUT (local
// packets), after the raw table: Track is nf_conntrack_in. It resolves the
// packet's entry or creates an unconfirmed one, runs the protocol tracker
// and returns a Result (state bit, direction, *pkt.Conn). A packet that the
// raw table marks NOTRACK (or CT --notrack) skips Track and uses
// Untracked(). NAT targets record their binding on the new entry with
// SetNAT. When the packet leaves through POSTROUTING or reaches INPUT
// accepted, the engine calls Confirm (nf_conntrack_confirm), which puts a
// new entry in the table; when the packet is dropped, it calls Discard and
// the unconfirmed entry disappears, as in the kernel. A packet that already
// carries conntrack (a locally generated packet looped back through lo)
// keeps the Result it got at OUTPUT: the engine must not call Track again.
// The packet REJECT sends in answer to a rejected packet gets that packet's
// entry from Related (nf_conntrack_attach: RELATED, other direction) instead
// of Track; for a TCP reset, SetClosing moves a confirmed entry to CLOSE
// (nf_ct_set_closing).
// Result.Drop means conntrack dropped the packet itself (table full).
// Time is the packet's time, never the wall clock.
//
// The engine defragments before Track, as nf_defrag_ipv4/ipv6 do before
// conntrack: Track assumes a whole packet and treats a non-first fragment
// as INVALID.
//
// # Exact
//
// Taken from the kernel source (net/netfilter/nf_conntrack_core.c,
// nf_conntrack_proto_{tcp,udp,icmp,icmpv6}.c):
//
//   - tuples and their inversion (ICMP/ICMPv6 id, type and code; echo,
//     timestamp, info and address-mask pairs for ICMP; echo and node
//     information for ICMPv6), lookup of confirmed, unexpired entries only,
//     removal of an expired entry met by a lookup;
//   - ctinfo: NEW until a reply is seen, ESTABLISHED after (and for every
//     reply-direction packet), RELATED for ICMP errors;
//   - the split between tracking and confirmation: the entry's timeout is
//     relative until Confirm makes it absolute, an unconfirmed entry reads
//     0 seconds left (nf_ct_expires), and an unconfirmed entry whose packet
//     turns out invalid is freed;
//   - TCP: tcp_error (header length, the tcp_valid_flags table: NULL, XMAS,
//     SYN-FIN, ... are INVALID), tcp_new (SYN, or a mid-stream ACK with
//     nf_conntrack_tcp_loose=1 and liberal window tracking for the picked-up
//     entry), the tcp_conntracks[2][6][10] table of 6.x, the ignore/resync
//     logic (sIG, SYN/ACK answering an ignored SYN), reopening from
//     TIME_WAIT/CLOSE (kill and look up again), simultaneous open, the RST
//     checks in CLOSE, RFC 5961 challenge ACKs in LAST_ACK, tcp_in_window
//     (td_end, td_maxend, td_maxwin, td_maxack, window scaling from SYN
//     options, SACK right edges when SACK is permitted, the 6.x IGNORE vs
//     INVALID outcomes), nf_tcp_handle_invalid, retransmission counting
//     (nf_conntrack_tcp_max_retrans=3), the timeout choice (retrans,
//     close on RST, unacknowledged data, zero window) and the default
//     timeouts, ASSURED on an ACK after SYN_RECV, killing an unreplied entry
//     on RST, no timeout renewal on SYN retransmits, the UNACK cap for
//     picked-up entries without a reply; invalid packets get no conntrack
//     (state INVALID) and leave the entry unchanged;
//   - UDP: udp_error (length field), 30 s, 120 s and ASSURED for a replied
//     flow more than 2 s old (stream_ts); UDP-Lite: its checksum coverage
//     and mandatory checksum, 120 s and ASSURED after a reply;
//   - ICMP: icmp_error (types above 18 INVALID), request types create
//     entries, a reply without a request is INVALID, errors quoting a
//     tracked flow are RELATED (inner tuple inverted, outer destination
//     checked), otherwise INVALID; ICMPv6 neighbour discovery and MLD
//     messages are UNTRACKED, redirects quoting a flow are RELATED;
//   - generic protocols: addresses and protocol, 600 s;
//   - counters: packets and bytes (IP length) per direction, updated where
//     nf_ct_refresh_acct and nf_ct_kill_acct run (not for ignored or
//     invalid packets or ICMP errors).
//
// # Approximations
//
//   - Table full: the kernel's early_drop deletes all non-assured entries of
//     the first of 8 hash buckets (random seed) holding one; this model
//     removes expired entries, then the one non-assured confirmed entry that
//     expires first. The gc worker's early drop at 95% of nf_conntrack_max
//     is not modelled; expired entries are gone as soon as they expire
//     (the kernel's gc frees them later, but they already count as absent
//     for lookups; only nf_conntrack_count differs).
//   - Times are nanoseconds, not jiffies (HZ granularity, 32-bit wrap).
//   - SCTP, DCCP and GRE are tracked as generic protocols (600 s, no state
//     machine; SCTP keeps its ports in the tuple); the kernel has trackers
//     for them (DCCP until its removal, GRE only with CONFIG_NF_CT_PROTO_GRE).
//   - Checksums are verified only when Table.Checksum is set (the kernel
//     verifies at PREROUTING unless the NIC did, which a capture cannot
//     tell).
//   - No helpers or expectations (IPS_EXPECTED never set; FTP data and the
//     like are NEW, not RELATED), no synproxy, no seqadj (NAT sequence
//     offsets are 0), no zones in the tuple (Conn.Zone is kept as set), no
//     conntrack events, labels or timeout policies.
//   - NAT: SetNAT only rewrites the reply tuple and sets IPS_SRC_NAT/
//     IPS_DST_NAT (and _DONE); when the new reply tuple is taken, it keeps
//     the port if free, else takes the lowest free port of the range (the
//     kernel picks from a hash-derived offset). NAT for confirmed entries
//     without a binding (null bindings) is not recorded.
//   - Clash at confirm: an existing entry with the same tuple takes over a
//     UDP/UDP-Lite packet when it has no NAT or identical tuples; every
//     other clash drops the packet (the kernel's nf_ct_resolve_clash_harder
//     reply-only insertion for UDP with NAT is not modelled).
//   - Accounting is always on (the kernel counts only with
//     nf_conntrack_acct=1, which xt_connbytes turns on).
package conntrack
