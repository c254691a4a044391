//! What every protocol's transaction has in common: protocol name, endpoints, the four capture
//! times, a status and flags. Protocol-specific fields stay on the protocol's own type
//! ([`super::HttpTransaction`], [`super::DnsTransaction`]); the pipeline (time order), latency
//! metrics and groupings work through [`Transaction`], so a new protocol's rows get them by
//! implementing it.

use super::http2::Http2Connection;
use super::pairing::Exchange;
use super::{DnsTransaction, Event, HttpTransaction, TlsConnection};
use std::net::SocketAddr;

/// The protocol-independent view of one request/response exchange.
pub trait Transaction {
    /// As in the `protocol` column: `http`, `dns`, ...
    fn protocol(&self) -> &'static str;
    fn client(&self) -> SocketAddr;
    fn server(&self) -> SocketAddr;
    /// The four capture times; a protocol whose messages have one time (a DNS datagram) uses
    /// it as both first and last.
    fn exchange(&self) -> Exchange;
    /// The protocol's outcome code as text (HTTP status, DNS rcode), if answered.
    fn status(&self) -> Option<String>;
    fn flags(&self) -> &[&'static str];
}

impl Transaction for HttpTransaction {
    fn protocol(&self) -> &'static str {
        "http"
    }
    fn client(&self) -> SocketAddr {
        SocketAddr::new(self.client_ip, self.client_port)
    }
    fn server(&self) -> SocketAddr {
        SocketAddr::new(self.server_ip, self.server_port)
    }
    fn exchange(&self) -> Exchange {
        Exchange {
            request_first_ns: self.request_first_ns,
            request_last_ns: self.request_last_ns,
            response_first_ns: self.response_first_ns,
            response_last_ns: self.response_last_ns,
        }
    }
    fn status(&self) -> Option<String> {
        self.status.map(|s| s.to_string())
    }
    fn flags(&self) -> &[&'static str] {
        &self.flags
    }
}

impl Transaction for DnsTransaction {
    fn protocol(&self) -> &'static str {
        "dns"
    }
    fn client(&self) -> SocketAddr {
        SocketAddr::new(self.client_ip, self.client_port)
    }
    fn server(&self) -> SocketAddr {
        SocketAddr::new(self.server_ip, self.server_port)
    }
    fn exchange(&self) -> Exchange {
        Exchange {
            request_first_ns: self.query_ns,
            request_last_ns: self.query_ns,
            response_first_ns: self.response_ns,
            response_last_ns: self.response_ns,
        }
    }
    fn status(&self) -> Option<String> {
        self.rcode.map(|r| r.to_string())
    }
    fn flags(&self) -> &[&'static str] {
        &self.flags
    }
}

/// A TLS handshake as an exchange: the ClientHello is the request, the ServerHello the
/// response (a row without ClientHello starts at its first record).
impl Transaction for TlsConnection {
    fn protocol(&self) -> &'static str {
        "tls"
    }
    fn client(&self) -> SocketAddr {
        SocketAddr::new(self.client_ip, self.client_port)
    }
    fn server(&self) -> SocketAddr {
        SocketAddr::new(self.server_ip, self.server_port)
    }
    fn exchange(&self) -> Exchange {
        let start = self.client_hello_ns.or(Some(self.first_record_ns));
        Exchange {
            request_first_ns: start,
            request_last_ns: start,
            response_first_ns: self.server_hello_ns,
            response_last_ns: self.server_hello_ns,
        }
    }
    fn status(&self) -> Option<String> {
        self.version.clone()
    }
    fn flags(&self) -> &[&'static str] {
        &self.flags
    }
}

/// An HTTP/2 connection as a whole: its first frame to its last.
impl Transaction for Http2Connection {
    fn protocol(&self) -> &'static str {
        "http2"
    }
    fn client(&self) -> SocketAddr {
        SocketAddr::new(self.client_ip, self.client_port)
    }
    fn server(&self) -> SocketAddr {
        SocketAddr::new(self.server_ip, self.server_port)
    }
    fn exchange(&self) -> Exchange {
        Exchange {
            request_first_ns: Some(self.first_ns),
            request_last_ns: Some(self.first_ns),
            response_first_ns: Some(self.last_ns),
            response_last_ns: Some(self.last_ns),
        }
    }
    fn status(&self) -> Option<String> {
        None
    }
    fn flags(&self) -> &[&'static str] {
        &[]
    }
}

impl Event {
    /// The transaction behind the event, whatever its protocol.
    pub fn transaction(&self) -> &dyn Transaction {
        match self {
            Event::Http(t) => t.as_ref(),
            Event::Dns(t) => t.as_ref(),
            Event::Tcp(t) => t.as_ref(),
            Event::Tls(t) => t.as_ref(),
            Event::Http2(t) => t.as_ref(),
        }
    }
}
