//! HTTP/1.x message parsing and request/response pairing (pipelining-aware).

use std::net::IpAddr;

/// One HTTP request and its response, in nanoseconds since the epoch.
///
/// `*_first_ns` is the capture time of the earliest packet that carried any byte of the
/// message; `*_last_ns` the capture time of the packet that completed it (the moment all its
/// bytes had been seen, so a late retransmission that fills a hole sets it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HttpTransaction {
    /// Index of the TCP connection in the capture (order of first packet), as in `sessions`.
    pub connection_id: u64,
    /// Position of this transaction on its connection, from 1 (Zeek's `trans_depth`).
    pub depth: u32,
    pub client_ip: IpAddr,
    pub client_port: u16,
    pub server_ip: IpAddr,
    pub server_port: u16,
    /// Empty for a response whose request was not seen.
    pub method: String,
    pub host: Option<String>,
    pub uri: String,
    pub version: String,
    pub status: Option<u16>,
    /// Bytes of the request / response messages (head + body) as seen.
    pub request_bytes: u64,
    pub response_bytes: u64,
    pub request_body_bytes: u64,
    pub response_body_bytes: u64,
    pub request_first_ns: Option<i64>,
    pub request_last_ns: Option<i64>,
    pub response_first_ns: Option<i64>,
    pub response_last_ns: Option<i64>,
    /// Problems, as short stable words: `gap`, `unanswered`, `orphan_response`,
    /// `request_incomplete`, `response_incomplete`, `malformed`, `continue` (a 100 Continue came first).
    pub flags: Vec<&'static str>,
}

impl HttpTransaction {
    fn diff(a: Option<i64>, b: Option<i64>) -> Option<i64> {
        Some(a? - b?)
    }
    /// Time to first byte: response first − request first.
    pub fn ttfb_ns(&self) -> Option<i64> {
        Self::diff(self.response_first_ns, self.request_first_ns)
    }
    /// Total: response last − request first.
    pub fn total_ns(&self) -> Option<i64> {
        Self::diff(self.response_last_ns, self.request_first_ns)
    }
    /// Server time: response first − request last.
    pub fn server_ns(&self) -> Option<i64> {
        Self::diff(self.response_first_ns, self.request_last_ns)
    }
    /// tshark's `http.time`: response last − request last.
    pub fn tshark_ns(&self) -> Option<i64> {
        Self::diff(self.response_last_ns, self.request_last_ns)
    }
}
