//! Connection-level figures of an HTTP/2 connection: streams open at once, PING round trips,
//! SETTINGS. One [`Http2Connection`] per connection, for `sessions --json` (field `http2`).

use super::frame::setting;
use crate::analyzers::seam::Dir;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// PING round trips kept per connection (the count goes on).
const MAX_PING_RTTS: usize = 64;
/// PINGs waiting for their ACK (a peer that never answers cannot grow this).
const MAX_PINGS_WAITING: usize = 16;

/// What one HTTP/2 connection did as a whole.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Http2Connection {
    /// The TCP connection, as `flow_id` in `sessions`.
    pub connection_id: u64,
    pub client_ip: IpAddr,
    pub client_port: u16,
    pub server_ip: IpAddr,
    pub server_port: u16,
    /// Capture times of the first and last frame.
    pub first_ns: i64,
    pub last_ns: i64,
    /// Streams opened (requests and pushes seen).
    pub streams: u64,
    /// Most streams open at once: from the request's first frame until both sides ended it
    /// (END_STREAM each way, or RST_STREAM).
    pub max_open_streams: u64,
    /// Streams open on average over first..last frame (time-weighted).
    pub mean_open_streams: f64,
    /// PINGs sent (either side) and the round trips to their ACKs (the first 64).
    pub pings: u64,
    pub ping_rtts_ns: Vec<i64>,
    /// The SETTINGS each side sent, by RFC 9113 name (the latest value of each).
    pub client_settings: BTreeMap<&'static str, u32>,
    pub server_settings: BTreeMap<&'static str, u32>,
}

/// Accumulates the figures while frames arrive.
#[derive(Debug, Default)]
pub(super) struct Figures {
    first_ns: Option<i64>,
    last_ns: i64,
    streams: u64,
    open_now: u64,
    max_open: u64,
    /// Integral of open streams over time (stream-nanoseconds) up to `last_change_ns`.
    area: i128,
    last_change_ns: i64,
    pings: u64,
    waiting: Vec<(Dir, [u8; 8], i64)>,
    rtts: Vec<i64>,
    settings: [BTreeMap<&'static str, u32>; 2],
}

impl Figures {
    /// A frame from either side at `t_ns`.
    pub fn frame(&mut self, t_ns: i64) {
        let first = *self.first_ns.get_or_insert(t_ns);
        self.last_ns = self.last_ns.max(t_ns).max(first);
    }

    fn advance(&mut self, t_ns: i64) {
        let t = t_ns.max(self.last_change_ns);
        self.area += i128::from(self.open_now) * i128::from(t - self.last_change_ns);
        self.last_change_ns = t;
    }

    pub fn stream_opened(&mut self, t_ns: i64) {
        if self.open_now == 0 && self.streams == 0 {
            self.last_change_ns = t_ns;
        }
        self.advance(t_ns);
        self.streams += 1;
        self.open_now += 1;
        self.max_open = self.max_open.max(self.open_now);
    }

    pub fn stream_closed(&mut self, t_ns: i64) {
        self.advance(t_ns);
        self.open_now = self.open_now.saturating_sub(1);
    }

    /// PING from `dir`: an ACK answers the other side's PING with the same data.
    pub fn ping(&mut self, dir: Dir, ack: bool, data: [u8; 8], t_ns: i64) {
        if !ack {
            self.pings += 1;
            if self.waiting.len() < MAX_PINGS_WAITING {
                self.waiting.push((dir, data, t_ns));
            }
            return;
        }
        if let Some(i) = self
            .waiting
            .iter()
            .position(|&(d, sent, _)| d != dir && sent == data)
        {
            let (_, _, sent_ns) = self.waiting.remove(i);
            if self.rtts.len() < MAX_PING_RTTS {
                self.rtts.push(t_ns.saturating_sub(sent_ns));
            }
        }
    }

    pub fn setting(&mut self, dir: Dir, id: u16, value: u32) {
        if let Some(name) = setting_name(id) {
            self.settings[dir].insert(name, value);
        }
    }

    /// The figures at the end of the connection (`client`: the client's direction).
    pub fn finish(
        mut self,
        connection_id: u64,
        senders: [(IpAddr, u16); 2],
        client: Dir,
    ) -> Option<Http2Connection> {
        let first_ns = self.first_ns?;
        let last_ns = self.last_ns;
        self.advance(last_ns);
        let span = last_ns.saturating_sub(first_ns);
        let mean_open_streams = if span > 0 {
            self.area as f64 / span as f64
        } else {
            self.max_open as f64
        };
        let [client_settings, server_settings] = {
            let [a, b] = self.settings;
            if client == 0 {
                [a, b]
            } else {
                [b, a]
            }
        };
        Some(Http2Connection {
            connection_id,
            client_ip: senders[client].0,
            client_port: senders[client].1,
            server_ip: senders[1 - client].0,
            server_port: senders[1 - client].1,
            first_ns,
            last_ns,
            streams: self.streams,
            max_open_streams: self.max_open,
            mean_open_streams,
            pings: self.pings,
            ping_rtts_ns: self.rtts,
            client_settings,
            server_settings,
        })
    }
}

/// RFC 9113 §6.5.2 (and RFC 8441's ENABLE_CONNECT_PROTOCOL).
fn setting_name(id: u16) -> Option<&'static str> {
    Some(match id {
        setting::HEADER_TABLE_SIZE => "HEADER_TABLE_SIZE",
        0x2 => "ENABLE_PUSH",
        0x3 => "MAX_CONCURRENT_STREAMS",
        0x4 => "INITIAL_WINDOW_SIZE",
        setting::MAX_FRAME_SIZE => "MAX_FRAME_SIZE",
        0x6 => "MAX_HEADER_LIST_SIZE",
        0x8 => "ENABLE_CONNECT_PROTOCOL",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_streams_and_ping_round_trips() {
        let mut f = Figures::default();
        f.frame(100);
        f.stream_opened(100); // 1 open 100..200
        f.stream_opened(200); // 2 open 200..300
        f.stream_closed(300); // 1 open 300..500
        f.ping(0, false, [1; 8], 350);
        f.ping(0, true, [1; 8], 360); // its own direction: not the answer
        f.ping(1, true, [1; 8], 390);
        f.stream_closed(500);
        f.frame(600); // 0 open 500..600
        f.setting(1, 0x3, 128);
        f.setting(1, 0x99, 1);
        let c = f
            .finish(
                7,
                [
                    ("10.0.0.1".parse().unwrap(), 1),
                    ("10.0.0.2".parse().unwrap(), 2),
                ],
                0,
            )
            .unwrap();
        assert_eq!((c.streams, c.max_open_streams, c.pings), (2, 2, 1));
        // (1 × 100 + 2 × 100 + 1 × 200) / 500
        assert_eq!(c.mean_open_streams, 1.0);
        assert_eq!(c.ping_rtts_ns, [40]);
        assert_eq!(c.server_settings.get("MAX_CONCURRENT_STREAMS"), Some(&128));
        assert_eq!(c.server_settings.len(), 1);
        assert_eq!(c.server_port, 2);
    }
}
