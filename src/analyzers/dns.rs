//! DNS query/response matching over UDP and TCP.
//!
//! UDP datagrams are DNS when they parse as DNS and either port is 53, 5353 (mDNS) or 5355
//! (LLMNR); on other ports a query is tracked tentatively (strict shape: one question,
//! nothing else but an optional EDNS OPT record) and only reported if answered. TCP DNS
//! (port 53) uses the 2-byte length prefix over the reassembled stream; a TCP message's time is
//! the capture time of the packet that completed it.
//!
//! Pairing key: (client ip, client port, server ip, server port, transport, id). A query
//! repeated with the same key while the first is unanswered is a retransmission: the
//! transaction keeps the FIRST query's time and gets the flag `retransmitted_query`. This
//! matches tshark 4.0, whose `dns.response_to` / `dns.time` on the response point at the
//! first query frame of the id in the conversation. Further responses with a key that was
//! answered recently are counted (`dns_duplicate_responses`) and not emitted, so each query
//! contributes one latency sample.
//!
//! Names are decoded with compression pointers, at most [`MAX_POINTERS`] jumps and 255 bytes,
//! so pointer loops end in an error instead of a hang.

use super::pairing::PairingQueue;
use super::seam::{Chunk, Claim, ConnInfo, Dir, Probe, Registration, Shared, TcpAnalyzer, Verdict};
use super::{Ctx, Event};
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::net::IpAddr;

/// One DNS query and its response.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DnsTransaction {
    pub client_ip: IpAddr,
    pub client_port: u16,
    pub server_ip: IpAddr,
    pub server_port: u16,
    /// `udp` or `tcp`.
    pub transport: &'static str,
    pub id: u16,
    /// First question name (dotted, no trailing dot) and type.
    pub query_name: String,
    pub query_type: u16,
    /// Response code (0 = NOERROR) when answered.
    pub rcode: Option<u8>,
    pub answers: u16,
    pub query_ns: Option<i64>,
    pub response_ns: Option<i64>,
    /// `unanswered`, `orphan_response`, `malformed`, `duplicate_response`, `clock_backwards`
    /// (capture time stepped back between query and response: the latency is negative).
    pub flags: Vec<&'static str>,
}

impl DnsTransaction {
    /// Response time − query time.
    pub fn latency_ns(&self) -> Option<i64> {
        super::pairing::elapsed(self.response_ns, self.query_ns)
    }
}

/// Ports where a DNS-shaped payload is taken as DNS without further evidence.
pub const DNS_PORTS: [u16; 3] = [53, 5353, 5355];

/// Whether either port is one of [`DNS_PORTS`].
pub(crate) fn on_dns_port(a: u16, b: u16) -> bool {
    DNS_PORTS.contains(&a) || DNS_PORTS.contains(&b)
}

/// Compression pointers followed in one name before it is declared a loop.
pub const MAX_POINTERS: usize = 64;
/// Queries waiting for an answer over the whole pass, by default
/// ([`super::AnalyzerConfig::max_dns_pending`]); beyond a lane's share the lane's oldest is
/// reported unanswered.
pub const DEFAULT_MAX_PENDING_QUERIES: usize = 1 << 17;
/// Answered keys remembered per lane to recognise duplicate responses (16,384 in all, ~1 MiB).
const RECENT_ANSWERED_PER_LANE: usize = 64;

/// Why a payload is not a DNS message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsError {
    Truncated,
    BadLabel,
    PointerLoop,
    NameTooLong,
}

/// The parts of a DNS message tracetail uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsMessage {
    pub id: u16,
    pub is_response: bool,
    pub opcode: u8,
    pub rcode: u8,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
    /// First question: name and type.
    pub question: Option<(String, u16)>,
    /// Offset just past the first question (12 when there is none).
    pub question_end: usize,
}

fn u16_at(msg: &[u8], at: usize) -> Result<u16, DnsError> {
    let bytes = msg.get(at..at + 2).ok_or(DnsError::Truncated)?;
    Ok(u16::from_be_bytes([bytes[0], bytes[1]]))
}

/// Decodes the name at `start`; returns it (dotted, no trailing dot, `\DDD` escapes for
/// unprintable bytes) and the offset after the name at its original position.
pub fn read_name(msg: &[u8], start: usize) -> Result<(String, usize), DnsError> {
    // The text is written here first so that the name is allocated once, at its size. A label
    // byte takes at most four characters (`\ddd`) and its length byte becomes the dot, so
    // the 255 wire bytes a name may have take at most 4 * 255.
    let mut text = [0u8; 4 * 255];
    let mut written = 0;
    let finish = |text: &[u8], written: usize| {
        std::str::from_utf8(&text[..written])
            .map(String::from)
            .map_err(|_| DnsError::BadLabel)
    };
    let mut pos = start;
    let mut end_after: Option<usize> = None;
    let mut pointers = 0;
    let mut wire_len = 0usize;
    loop {
        let len = *msg.get(pos).ok_or(DnsError::Truncated)?;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    return Ok((finish(&text, written)?, end_after.unwrap_or(pos + 1)));
                }
                let label = msg
                    .get(pos + 1..pos + 1 + len as usize)
                    .ok_or(DnsError::Truncated)?;
                wire_len += 1 + len as usize;
                if wire_len > 255 {
                    return Err(DnsError::NameTooLong);
                }
                if written > 0 {
                    text[written] = b'.';
                    written += 1;
                }
                for &b in label {
                    if b.is_ascii_graphic() && b != b'.' && b != b'\\' {
                        text[written] = b;
                        written += 1;
                    } else {
                        // `\ddd`: the byte in three decimal digits.
                        text[written..written + 4].copy_from_slice(&[
                            b'\\',
                            b'0' + b / 100,
                            b'0' + b / 10 % 10,
                            b'0' + b % 10,
                        ]);
                        written += 4;
                    }
                }
                pos += 1 + len as usize;
            }
            0xc0 => {
                let low = *msg.get(pos + 1).ok_or(DnsError::Truncated)?;
                pointers += 1;
                if pointers > MAX_POINTERS {
                    return Err(DnsError::PointerLoop);
                }
                if end_after.is_none() {
                    end_after = Some(pos + 2);
                }
                pos = (((len & 0x3f) as usize) << 8) | low as usize;
            }
            _ => return Err(DnsError::BadLabel),
        }
    }
}

/// Parses the header and the first question.
pub fn parse_message(msg: &[u8]) -> Result<DnsMessage, DnsError> {
    if msg.len() < 12 {
        return Err(DnsError::Truncated);
    }
    let flags = u16_at(msg, 2)?;
    let qdcount = u16_at(msg, 4)?;
    let (question, question_end) = if qdcount > 0 {
        let (name, after) = read_name(msg, 12)?;
        let qtype = u16_at(msg, after)?;
        u16_at(msg, after + 2)?; // class
        (Some((name, qtype)), after + 4)
    } else {
        (None, 12)
    };
    Ok(DnsMessage {
        id: u16_at(msg, 0)?,
        is_response: flags & 0x8000 != 0,
        opcode: ((flags >> 11) & 0xf) as u8,
        rcode: (flags & 0xf) as u8,
        qdcount,
        ancount: u16_at(msg, 6)?,
        nscount: u16_at(msg, 8)?,
        arcount: u16_at(msg, 10)?,
        question,
        question_end,
    })
}

/// The fixed header alone (for messages whose question does not parse).
fn parse_header(msg: &[u8]) -> Option<DnsMessage> {
    let flags = u16_at(msg, 2).ok()?;
    Some(DnsMessage {
        id: u16_at(msg, 0).ok()?,
        is_response: flags & 0x8000 != 0,
        opcode: ((flags >> 11) & 0xf) as u8,
        rcode: (flags & 0xf) as u8,
        qdcount: u16_at(msg, 4).ok()?,
        ancount: u16_at(msg, 6).ok()?,
        nscount: u16_at(msg, 8).ok()?,
        arcount: u16_at(msg, 10).ok()?,
        question: None,
        question_end: 12,
    })
}

/// A query that looks like what a resolver sends: one question, at most an EDNS OPT record.
fn is_plain_query(m: &DnsMessage, len: usize, msg: &[u8]) -> bool {
    if m.opcode != 0 || m.qdcount != 1 || m.ancount != 0 || m.nscount != 0 {
        return false;
    }
    match m.arcount {
        0 => m.question_end == len,
        1 => msg.get(m.question_end..m.question_end + 3) == Some(&[0, 0, 41][..]),
        _ => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct DnsKey {
    client: (IpAddr, u16),
    server: (IpAddr, u16),
    tcp: bool,
    id: u16,
}

#[derive(Debug)]
struct PendingQuery {
    tx: DnsTransaction,
    /// On a non-DNS port: reported only if answered.
    tentative: bool,
}

/// The limits of one lane (see [`crate::flows::lanes`]): its state is the same for every
/// number of workers, so what the limits shed is too.
#[derive(Debug, Default)]
struct Lane {
    pending: usize,
    /// This lane's pending keys in query order (entries may be stale).
    order: VecDeque<(i64, DnsKey)>,
    /// Answered keys remembered, oldest first.
    recent: VecDeque<DnsKey>,
}

/// Matches queries and responses of all transports.
#[derive(Debug)]
pub(crate) struct DnsTracker {
    /// Queries waiting for their response, by key, in query order (for timeouts); each holds
    /// the watermark at its query time.
    /// Queries boxed: a slot of the queue is then small, so its room for growth (it doubles)
    /// costs little (500k unanswered queries with two workers: ~30 MB less at the peak).
    pending: PairingQueue<DnsKey, Box<PendingQuery>>,
    recent: FxHashMap<DnsKey, i64>,
    /// Per lane.
    lanes: Vec<Lane>,
}

impl Default for DnsTracker {
    fn default() -> Self {
        DnsTracker {
            pending: PairingQueue::default(),
            recent: FxHashMap::default(),
            lanes: (0..crate::flows::lanes::LANES)
                .map(|_| Lane::default())
                .collect(),
        }
    }
}

impl DnsKey {
    fn lane(&self) -> usize {
        crate::flows::lanes::lane_of(self.client, self.server)
    }
}

/// Whether a lane's `(query time, key)` entry is still a pending query (not answered since,
/// nor replaced by a later query with the same key).
fn is_live(pending: &mut PairingQueue<DnsKey, Box<PendingQuery>>, (t, key): (i64, DnsKey)) -> bool {
    pending
        .by_key(&key)
        .is_some_and(|p| p.item.tx.query_ns == Some(t))
}

impl DnsTracker {
    /// Whether a UDP datagram between these ports should be looked at.
    pub(crate) fn wants_udp(&self, src: (IpAddr, u16), dst: (IpAddr, u16), payload: &[u8]) -> bool {
        if on_dns_port(src.1, dst.1) {
            return true;
        }
        if payload.len() < 12 {
            return false;
        }
        if payload[2] & 0x80 != 0 {
            let id = u16::from_be_bytes([payload[0], payload[1]]);
            let key = DnsKey {
                client: dst,
                server: src,
                tcp: false,
                id,
            };
            return self.pending.contains(&key);
        }
        true
    }

    /// One DNS message (a UDP payload or a TCP length-delimited message) seen at `ts_ns`.
    pub(crate) fn on_message(
        &mut self,
        tcp: bool,
        src: (IpAddr, u16),
        dst: (IpAddr, u16),
        payload: &[u8],
        ts_ns: i64,
        ctx: &mut Ctx<'_>,
    ) {
        let standard = tcp || on_dns_port(src.1, dst.1);
        let mut malformed = false;
        let m = match parse_message(payload) {
            Ok(m) => m,
            Err(_) if !standard => return,
            Err(_) => {
                ctx.stats.dns_parse_errors += 1;
                // A bad question still leaves an id to pair on (tshark pairs these too).
                match parse_header(payload) {
                    Some(m) => {
                        malformed = true;
                        m
                    }
                    None => return,
                }
            }
        };
        if !m.is_response {
            if !standard && !is_plain_query(&m, payload.len(), payload) {
                return;
            }
            let key = DnsKey {
                client: src,
                server: dst,
                tcp,
                id: m.id,
            };
            if let Some(p) = self.pending.by_key(&key) {
                add_flag(&mut p.item.tx.flags, "retransmitted_query");
                return;
            }
            let (query_name, query_type) = m.question.unwrap_or_default();
            let flags = if malformed {
                vec!["malformed"]
            } else {
                Vec::new()
            };
            let tx = DnsTransaction {
                client_ip: src.0,
                client_port: src.1,
                server_ip: dst.0,
                server_port: dst.1,
                transport: if tcp { "tcp" } else { "udp" },
                id: m.id,
                query_name,
                query_type,
                rcode: None,
                answers: 0,
                query_ns: Some(ts_ns),
                response_ns: None,
                flags,
            };
            let query = PendingQuery {
                tx,
                tentative: !standard,
            };
            self.pending
                .push_request(key, ts_ns, Box::new(query), ctx.marks);
            self.admit(ts_ns, key, ctx);
            return;
        }
        let key = DnsKey {
            client: dst,
            server: src,
            tcp,
            id: m.id,
        };
        if let Some(pending) = self.pending.remove(&key, ctx.marks) {
            self.lanes[key.lane()].pending -= 1;
            let mut p = pending.item;
            p.tx.rcode = Some(m.rcode);
            p.tx.answers = m.ancount;
            if malformed {
                add_flag(&mut p.tx.flags, "malformed");
            }
            p.tx.response_ns = Some(ts_ns);
            if p.tx.latency_ns().is_some_and(|t| t < 0) {
                add_flag(&mut p.tx.flags, "clock_backwards");
            }
            if p.tx.query_name.is_empty() {
                if let Some((name, qtype)) = m.question {
                    p.tx.query_name = name;
                    p.tx.query_type = qtype;
                }
            }
            self.remember(key);
            ctx.stats.dns_queries += 1;
            ctx.out.push(Event::Dns(Box::new(p.tx)));
        } else if self.recent.contains_key(&key) {
            ctx.stats.dns_duplicate_responses += 1;
        } else if standard {
            let (query_name, query_type) = m.question.unwrap_or_default();
            ctx.stats.dns_orphan_responses += 1;
            ctx.out.push(Event::Dns(Box::new(DnsTransaction {
                client_ip: dst.0,
                client_port: dst.1,
                server_ip: src.0,
                server_port: src.1,
                transport: if tcp { "tcp" } else { "udp" },
                id: m.id,
                query_name,
                query_type,
                rcode: Some(m.rcode),
                answers: m.ancount,
                query_ns: None,
                response_ns: Some(ts_ns),
                flags: if malformed {
                    vec!["orphan_response", "malformed"]
                } else {
                    vec!["orphan_response"]
                },
            })));
        }
    }

    fn remember(&mut self, key: DnsKey) {
        if self.recent.insert(key, 0).is_some() {
            return;
        }
        let lane = &mut self.lanes[key.lane()];
        lane.recent.push_back(key);
        if lane.recent.len() > RECENT_ANSWERED_PER_LANE {
            if let Some(old) = lane.recent.pop_front() {
                self.recent.remove(&old);
            }
        }
    }

    /// A query was just added: over its lane's share of `max_dns_pending`, the lane's oldest
    /// pending query is reported unanswered (counted in `dns_pending_sheds`).
    fn admit(&mut self, ts_ns: i64, key: DnsKey, ctx: &mut Ctx<'_>) {
        let share = (ctx.config.max_dns_pending / crate::flows::lanes::LANES).max(1);
        let lane = &mut self.lanes[key.lane()];
        lane.pending += 1;
        lane.order.push_back((ts_ns, key));
        let mut oldest = None;
        if lane.pending > share {
            while let Some(entry) = lane.order.pop_front() {
                if is_live(&mut self.pending, entry) {
                    oldest = Some(entry.1);
                    break;
                }
            }
        }
        // Answered queries leave stale entries behind: drop them once they dominate.
        if lane.order.len() > 2 * lane.pending + 16 {
            let pending = &mut self.pending;
            lane.order.retain(|&entry| is_live(pending, entry));
        }
        if let Some(p) = oldest.and_then(|key| self.pending.remove(&key, ctx.marks)) {
            lane.pending -= 1;
            ctx.stats.dns_pending_sheds += 1;
            Self::report_unanswered(*p.item, ctx);
        }
    }

    fn report_unanswered(mut p: PendingQuery, ctx: &mut Ctx<'_>) {
        if !p.tentative {
            p.tx.flags.push("unanswered");
            ctx.stats.dns_queries += 1;
            ctx.stats.dns_unanswered += 1;
            ctx.out.push(Event::Dns(Box::new(p.tx)));
        }
    }

    /// Reports queries older than `before_ns` unanswered.
    pub(crate) fn expire(&mut self, before_ns: i64, ctx: &mut Ctx<'_>) {
        let old = |p: &super::pairing::Pending<DnsKey, Box<PendingQuery>>| {
            p.times.request_first_ns.is_some_and(|t| t < before_ns)
        };
        while let Some(pending) = self.pending.pop_front_where(ctx.marks, old) {
            self.lanes[pending.key.lane()].pending -= 1;
            Self::report_unanswered(*pending.item, ctx);
        }
    }

    /// End of capture: every pending query is unanswered.
    pub(crate) fn finish(&mut self, ctx: &mut Ctx<'_>) {
        self.expire(i64::MAX, ctx);
    }
}

fn add_flag(flags: &mut Vec<&'static str>, flag: &'static str) {
    if !flags.contains(&flag) {
        flags.push(flag);
    }
}

/// DNS over TCP claims connections to or from port 53 (DNS messages carry no magic to detect).
pub const REGISTRATION: Registration = Registration {
    name: "dns",
    probe: |p: &Probe<'_>| {
        if p.has_port(53) {
            Claim::Yes
        } else {
            Claim::No
        }
    },
    new: |info: &ConnInfo| Box::new(DnsTcpConn::new(info.senders)),
    observer: false,
};

impl TcpAnalyzer for DnsTcpConn {
    fn protocol(&self) -> &'static str {
        "dns"
    }

    /// Messages waiting for their end.
    fn held_bytes(&self) -> usize {
        self.bufs.iter().map(Vec::capacity).sum()
    }

    fn on_data(
        &mut self,
        dir: Dir,
        chunk: &Chunk<'_>,
        ctx: &mut Ctx<'_>,
        shared: &mut Shared,
    ) -> Verdict {
        // Dated by in-order reassembly, as tshark does.
        DnsTcpConn::on_data(self, dir, chunk.bytes, chunk.ready_ns, &mut shared.dns, ctx);
        Verdict::Continue
    }

    fn on_gap(&mut self, dir: Dir, _len: u64, ctx: &mut Ctx<'_>) {
        DnsTcpConn::on_gap(self, dir, ctx);
    }
}

/// DNS over one TCP connection: 2-byte length prefix framing per direction.
#[derive(Debug)]
pub(crate) struct DnsTcpConn {
    senders: [(IpAddr, u16); 2],
    bufs: [Vec<u8>; 2],
    dead: [bool; 2],
}

impl DnsTcpConn {
    pub(crate) fn new(senders: [(IpAddr, u16); 2]) -> Self {
        DnsTcpConn {
            senders,
            bufs: [Vec::new(), Vec::new()],
            dead: [false; 2],
        }
    }

    pub(crate) fn on_data(
        &mut self,
        dir: usize,
        bytes: &[u8],
        ready_ns: i64,
        tracker: &mut DnsTracker,
        ctx: &mut Ctx<'_>,
    ) {
        if self.dead[dir] {
            return;
        }
        // Buffer at most one message (2 + 65535 bytes) beyond what is parsed.
        let buf = &mut self.bufs[dir];
        buf.extend_from_slice(bytes);
        let mut at = 0;
        while buf.len() - at >= 2 {
            let len = u16::from_be_bytes([buf[at], buf[at + 1]]) as usize;
            if len < 12 {
                ctx.stats.dns_parse_errors += 1;
                self.dead[dir] = true;
                buf.clear();
                return;
            }
            if buf.len() - at < 2 + len {
                break;
            }
            let msg = &buf[at + 2..at + 2 + len];
            tracker.on_message(
                true,
                self.senders[dir],
                self.senders[1 - dir],
                msg,
                ready_ns,
                ctx,
            );
            at += 2 + len;
        }
        buf.drain(..at);
    }

    /// Framing is lost after a gap: stop parsing this direction.
    pub(crate) fn on_gap(&mut self, dir: usize, ctx: &mut Ctx<'_>) {
        if !self.dead[dir] {
            ctx.stats.dns_parse_errors += 1;
        }
        self.dead[dir] = true;
        self.bufs[dir] = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_compression() {
        // Header (12 bytes), then "www.example.com" at 12, then "mail" + pointer to "example.com".
        let mut msg = vec![0u8; 12];
        msg.extend_from_slice(b"\x03www\x07example\x03com\x00");
        let mail_at = msg.len();
        msg.extend_from_slice(b"\x04mail\xc0\x10");
        assert_eq!(
            read_name(&msg, 12),
            Ok(("www.example.com".to_string(), mail_at))
        );
        assert_eq!(
            read_name(&msg, mail_at),
            Ok(("mail.example.com".to_string(), msg.len()))
        );
    }

    #[test]
    fn pointer_loops_and_bad_names_are_errors() {
        let mut msg = vec![0u8; 12];
        msg.extend_from_slice(b"\xc0\x0c"); // points at itself
        assert_eq!(read_name(&msg, 12), Err(DnsError::PointerLoop));
        let mut two = vec![0u8; 12];
        two.extend_from_slice(b"\x01a\xc0\x10\x01b\xc0\x0c"); // a -> b -> a ...
        assert_eq!(read_name(&two, 12), Err(DnsError::PointerLoop));
        assert_eq!(read_name(b"\x05ab", 0), Err(DnsError::Truncated));
        assert_eq!(read_name(b"\x41ab", 0), Err(DnsError::BadLabel));
        let long: Vec<u8> = std::iter::repeat_n(
            &b"\x3faaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"[..],
            5,
        )
        .flatten()
        .copied()
        .chain([0])
        .collect();
        assert_eq!(read_name(&long, 0), Err(DnsError::NameTooLong));
        assert_eq!(read_name(b"\x02a.\x00", 0), Ok(("a\\046".to_string(), 4)));
        // Every byte escaped, in the longest name there is (255 wire bytes: 3 labels of 63,
        // one of 61, the root): the text is 4 * 63 * 3 + 4 * 61 + 3 dots long.
        let mut longest = Vec::new();
        for len in [63u8, 63, 63, 61] {
            longest.push(len);
            longest.extend(std::iter::repeat_n(0xffu8, usize::from(len)));
        }
        longest.push(0);
        assert_eq!(longest.len(), 255);
        let (name, after) = read_name(&longest, 0).unwrap();
        assert_eq!((name.len(), after), (4 * 250 + 3, 255));
        assert!(name.starts_with("\\255\\255") && name.ends_with("\\255"));
        let (name, _) = read_name(b"\x05 \\\x00\x7fa\x00", 0).unwrap();
        assert_eq!(name, "\\032\\092\\000\\127a");
    }
}
