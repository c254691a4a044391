//! DNS query/response matching over UDP and TCP.

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
    /// `unanswered`, `orphan_response`, `malformed`, `duplicate_response`.
    pub flags: Vec<&'static str>,
}

impl DnsTransaction {
    /// Response time − query time.
    pub fn latency_ns(&self) -> Option<i64> {
        Some(self.response_ns? - self.query_ns?)
    }
}
