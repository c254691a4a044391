//! One HTTP/2 stream as one transaction: what its header blocks say and what it carried.

use super::grpc::{self, MessageCounter};
use crate::analyzers::http::{add_flag, HttpTransaction};

/// The fields of a decoded header block that a transaction keeps.
#[derive(Debug, Default, Clone)]
pub(super) struct HeaderSummary {
    pub method: Option<String>,
    pub path: Option<String>,
    pub authority: Option<String>,
    pub status: Option<u16>,
    pub grpc_content_type: bool,
    /// `grpc-*` fields, in order (trailers, or a trailers-only response).
    pub grpc_fields: Vec<(Vec<u8>, Vec<u8>)>,
}

impl HeaderSummary {
    /// The names [`HeaderSummary::add`] reads; the decoder skips the values of all others.
    pub fn wants(name: &[u8]) -> bool {
        matches!(
            name,
            b":method" | b":path" | b":authority" | b":status" | b"content-type" | b"host"
        ) || name.starts_with(b"grpc-")
    }

    /// One decoded field (called in block order).
    pub fn add(&mut self, name: &[u8], value: &[u8]) {
        let text = || match std::str::from_utf8(value) {
            Ok(valid) => valid.to_owned(),
            Err(_) => String::from_utf8_lossy(value).into_owned(),
        };
        match name {
            b":method" => self.method = Some(text()),
            b":path" => self.path = Some(text()),
            b":authority" => self.authority = Some(text()),
            b":status" => self.status = parse_status(value),
            b"content-type" => self.grpc_content_type = grpc::is_grpc_content_type(value),
            // Hosts written by HTTP/1-minded clients (RFC 9113 §8.3.1 prefers :authority).
            b"host" if self.authority.is_none() => self.authority = Some(text()),
            _ if name.starts_with(b"grpc-") => {
                self.grpc_fields.push((name.to_vec(), value.to_vec()))
            }
            _ => {}
        }
    }

    /// A response block whose `:status` is 1xx: not the final response.
    pub fn is_interim(&self) -> bool {
        self.status.is_some_and(|s| (100..200).contains(&s))
    }
}

/// A `:status` value as a number: three digits (every real one) read directly, anything else
/// as `u16::from_str` reads it.
fn parse_status(value: &[u8]) -> Option<u16> {
    match *value {
        [a, b, c] if value.iter().all(u8::is_ascii_digit) => {
            Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => std::str::from_utf8(value).ok()?.parse().ok(),
    }
}

/// What a waiting stream keeps besides its four times (held in the pairing queue).
#[derive(Debug)]
pub(super) struct Stream {
    /// Boxed: the queue moves its entries (push, pop, release), a transaction is large.
    pub tx: Box<HttpTransaction>,
    pub request_done: bool,
    pub response_started: bool,
    pub response_done: bool,
    /// gRPC messages each way: `[request, response]`.
    pub messages: Option<Box<[MessageCounter; 2]>>,
}

impl Stream {
    pub fn new(tx: HttpTransaction) -> Self {
        Stream {
            tx: Box::new(tx),
            request_done: false,
            response_started: false,
            response_done: false,
            messages: None,
        }
    }

    pub fn flag(&mut self, flag: &'static str) {
        add_flag(&mut self.tx.flags, flag);
    }

    /// The request's header block: method, host, path, and the gRPC call when the content
    /// type says so.
    pub fn apply_request(&mut self, h: HeaderSummary) {
        let tx = &mut self.tx;
        if let Some(m) = h.method {
            tx.method = m.into();
        }
        if let Some(p) = h.path {
            tx.uri = p.into();
        }
        if h.authority.is_some() {
            tx.host = h.authority.map(Into::into);
        }
        if h.grpc_content_type && tx.grpc.is_none() {
            tx.grpc = grpc::call_from_path(&tx.uri);
            if tx.grpc.is_some() {
                self.messages = Some(Box::default());
            }
        }
    }

    /// A response header block after the interim ones: the final head, or trailers.
    pub fn apply_response(&mut self, h: &HeaderSummary) {
        if let (Some(s), None) = (h.status, self.tx.status) {
            self.tx.status = Some(s);
        }
        if let Some(call) = self.tx.grpc.as_mut() {
            for (name, value) in &h.grpc_fields {
                grpc::apply_trailer(call, name, value);
            }
        }
    }

    /// DATA payload (padding excluded) from the client (`request`) or the server.
    pub fn add_body(&mut self, request: bool, data: &[u8]) {
        let tx = &mut self.tx;
        if request {
            tx.request_body_bytes += data.len() as u64;
        } else {
            tx.response_body_bytes += data.len() as u64;
        }
        if let Some(m) = self.messages.as_mut() {
            m[usize::from(!request)].feed(data);
        }
    }

    /// Frame bytes (header included) sent on this stream by the client or the server.
    pub fn add_frame_bytes(&mut self, request: bool, n: u64) {
        if request {
            self.tx.request_bytes += n;
        } else {
            self.tx.response_bytes += n;
        }
    }

    pub fn is_done(&self) -> bool {
        self.request_done && self.response_done
    }

    /// The transaction as reported: state flags and the message counts filled in.
    pub fn into_transaction(mut self) -> Box<HttpTransaction> {
        // A reset stream was cancelled: "reset" says all.
        let reset = self.tx.flags.contains(&"reset");
        if !reset && !self.response_started {
            self.flag("unanswered");
        } else if !reset && !self.response_done {
            self.flag("response_incomplete");
        }
        if !self.request_done && !reset {
            self.flag("request_incomplete");
        }
        if let (Some(call), Some(m)) = (self.tx.grpc.as_mut(), self.messages.as_ref()) {
            call.request_messages = m[0].count();
            call.response_messages = m[1].count();
        }
        self.tx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::http2::hpack::STATIC_TABLE;

    /// Every field `add` keeps is one `wants` lets through: skipping the others loses nothing.
    #[test]
    fn status_reads_as_from_str() {
        for value in [
            &b"200"[..],
            b"404",
            b"099",
            b"999",
            b"+20",
            b"20",
            b"2000",
            b"65535",
            b"65536",
            b"",
            b"2a0",
            b" 200",
            b"\xff00",
        ] {
            let reference = std::str::from_utf8(value).ok().and_then(|s| s.parse().ok());
            assert_eq!(parse_status(value), reference, "{value:?}");
        }
    }

    #[test]
    fn wants_covers_every_field_add_reads() {
        let untouched = format!("{:?}", HeaderSummary::default());
        let names = STATIC_TABLE.iter().map(|(name, _)| name.as_bytes()).chain([
            &b"grpc-status"[..],
            b"grpc-message",
            b"te",
            b"x-trace",
            b"",
        ]);
        for name in names {
            for value in [&b"GET"[..], b"200", b"application/grpc", b"/a", b""] {
                let mut summary = HeaderSummary::default();
                summary.add(name, value);
                if format!("{summary:?}") != untouched {
                    assert!(
                        HeaderSummary::wants(name),
                        "{}",
                        String::from_utf8_lossy(name)
                    );
                }
            }
        }
    }
}
