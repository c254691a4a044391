//! gRPC over HTTP/2: the call behind a stream (service, method, status, message counts).
//!
//! Facts from the gRPC "HTTP/2 protocol" document: requests carry `content-type:
//! application/grpc` (optionally `+proto`, `+json`, … and parameters), the path is
//! `/{service}/{method}` with the service fully qualified (`package.Service`), the status
//! comes in the trailers (or in a trailers-only response's HEADERS) as `grpc-status`
//! (decimal) and `grpc-message` (percent-encoded UTF-8), and the body of each direction is a
//! sequence of messages, each after a 5-byte prefix: a compressed flag and a big-endian u32
//! length.

use crate::analyzers::GrpcCall;

const GRPC_CONTENT_TYPE: &[u8] = b"application/grpc";

/// `application/grpc`, `application/grpc+proto`, `application/grpc+json`,
/// `application/grpc; charset=…` (case-insensitive), and nothing else: not
/// `application/grpc-web` (a different framing).
pub fn is_grpc_content_type(value: &[u8]) -> bool {
    let value = value.trim_ascii();
    if value.len() < GRPC_CONTENT_TYPE.len()
        || !value[..GRPC_CONTENT_TYPE.len()].eq_ignore_ascii_case(GRPC_CONTENT_TYPE)
    {
        return false;
    }
    match value.get(GRPC_CONTENT_TYPE.len()) {
        None => true,
        Some(b'+') | Some(b';') | Some(b' ') | Some(b'\t') => {
            // A parameter list may follow blanks; a subtype suffix follows '+' directly.
            let rest = value[GRPC_CONTENT_TYPE.len()..].trim_ascii_start();
            rest.is_empty() || rest[0] == b';' || value[GRPC_CONTENT_TYPE.len()] == b'+'
        }
        Some(_) => false,
    }
}

/// The call named by a request path `/package.Service/Method`: `None` for anything else
/// (no leading slash, an empty part, more than two parts, a query string).
pub fn call_from_path(path: &str) -> Option<GrpcCall> {
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    let valid = |part: &str| !part.is_empty() && !part.contains(['/', '?', '#']);
    if !valid(service) || !valid(method) {
        return None;
    }
    Some(GrpcCall {
        service: service.to_string(),
        method: method.to_string(),
        ..GrpcCall::default()
    })
}

/// Takes `grpc-status` and `grpc-message` from a trailer (or trailers-only HEADERS) field;
/// other fields are ignored. A status that is not a decimal number is left unset; an empty
/// message is none; a message is percent-decoded, with invalid escapes kept as they are and invalid UTF-8
/// replaced (as the gRPC spec asks receivers to do).
pub fn apply_trailer(call: &mut GrpcCall, name: &[u8], value: &[u8]) {
    if name.eq_ignore_ascii_case(b"grpc-status") {
        call.status = std::str::from_utf8(value.trim_ascii())
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok());
    } else if name.eq_ignore_ascii_case(b"grpc-message") {
        // Servers send an empty grpc-message with OK: no message.
        call.message = (!value.is_empty()).then(|| percent_decode(value));
    }
}

fn percent_decode(value: &[u8]) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'%' {
            if let (Some(hi), Some(lo)) = (
                value.get(i + 1).and_then(|&b| hex(b)),
                value.get(i + 2).and_then(|&b| hex(b)),
            ) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(value[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Counts length-prefixed gRPC messages in one direction's DATA payloads, however the
/// frames split them (a prefix may straddle frames; a message may span many). A message
/// counts once its 5-byte prefix is complete, so a call cut off mid-message still counts it.
#[derive(Debug, Default, Clone)]
pub struct MessageCounter {
    /// Prefix bytes of the next message seen so far (0..5).
    prefix: [u8; 5],
    prefix_len: u8,
    /// Body bytes of the current message still to skip.
    body_left: u64,
    count: u64,
}

impl MessageCounter {
    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.body_left > 0 {
                let skip = self.body_left.min(data.len() as u64);
                self.body_left -= skip;
                data = &data[skip as usize..];
                continue;
            }
            let take = (5 - self.prefix_len as usize).min(data.len());
            let at = self.prefix_len as usize;
            self.prefix[at..at + take].copy_from_slice(&data[..take]);
            self.prefix_len += take as u8;
            data = &data[take..];
            if self.prefix_len == 5 {
                self.count += 1;
                let length = u32::from_be_bytes(self.prefix[1..5].try_into().unwrap());
                self.body_left = length as u64;
                self.prefix_len = 0;
            }
        }
    }

    /// Messages whose prefix has been seen.
    pub fn count(&self) -> u64 {
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        for yes in [
            &b"application/grpc"[..],
            b"application/grpc+proto",
            b"application/grpc+json",
            b"Application/GRPC",
            b"application/grpc; charset=utf-8",
            b"application/grpc;q=1",
            b"application/grpc+proto;foo=bar",
            b" application/grpc ",
        ] {
            assert!(
                is_grpc_content_type(yes),
                "{}",
                String::from_utf8_lossy(yes)
            );
        }
        for no in [
            &b"application/grpc-web"[..],
            b"application/grpc-web+proto",
            b"application/grpcx",
            b"application/json",
            b"application/grp",
            b"",
            b"text/plain; application/grpc",
        ] {
            assert!(!is_grpc_content_type(no), "{}", String::from_utf8_lossy(no));
        }
    }

    #[test]
    fn paths() {
        let call = call_from_path("/helloworld.Greeter/SayHello").unwrap();
        assert_eq!(call.service, "helloworld.Greeter");
        assert_eq!(call.method, "SayHello");
        assert_eq!(call.status, None);
        assert_eq!(call.request_messages, 0);
        let call = call_from_path("/Svc/M").unwrap();
        assert_eq!((call.service.as_str(), call.method.as_str()), ("Svc", "M"));
        for bad in [
            "",
            "/",
            "//M",
            "/Svc/",
            "/Svc",
            "Svc/M",
            "/a/b/c",
            "/a/b?x=1",
            "/index.html",
        ] {
            assert_eq!(call_from_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn trailers() {
        let mut call = call_from_path("/s.S/m").unwrap();
        apply_trailer(&mut call, b"grpc-status", b"5");
        apply_trailer(
            &mut call,
            b"grpc-message",
            b"no such thing %C3%BC, 100%25 sure",
        );
        apply_trailer(&mut call, b"content-type", b"application/grpc");
        assert_eq!(call.status, Some(5));
        assert_eq!(call.message.as_deref(), Some("no such thing ü, 100% sure"));
        // Invalid escapes stay, invalid UTF-8 becomes U+FFFD, bad status is unset.
        apply_trailer(&mut call, b"grpc-message", b"50% %zz %FF");
        assert_eq!(call.message.as_deref(), Some("50% %zz \u{fffd}"));
        apply_trailer(&mut call, b"grpc-status", b"-1");
        assert_eq!(call.status, None);
        apply_trailer(&mut call, b"Grpc-Status", b"0");
        assert_eq!(call.status, Some(0));
        apply_trailer(&mut call, b"grpc-status", b"99999999999");
        assert_eq!(call.status, None);
        apply_trailer(&mut call, b"grpc-message", b"");
        assert_eq!(call.message, None);
    }

    /// Three messages (lengths 0, 3 and 300) as one byte stream.
    fn stream() -> Vec<u8> {
        let mut bytes = Vec::new();
        for (flag, len) in [(0u8, 0u32), (1, 3), (0, 300)] {
            bytes.push(flag);
            bytes.extend_from_slice(&len.to_be_bytes());
            bytes.extend(std::iter::repeat_n(0xab, len as usize));
        }
        bytes
    }

    #[test]
    fn messages_across_any_split() {
        let bytes = stream();
        let mut whole = MessageCounter::default();
        whole.feed(&bytes);
        assert_eq!(whole.count(), 3);
        // Every split into two frames, and byte-at-a-time.
        for cut in 0..=bytes.len() {
            let mut c = MessageCounter::default();
            c.feed(&bytes[..cut]);
            c.feed(&bytes[cut..]);
            assert_eq!(c.count(), 3, "cut at {cut}");
        }
        let mut c = MessageCounter::default();
        for b in &bytes {
            c.feed(std::slice::from_ref(b));
        }
        assert_eq!(c.count(), 3);
        // A prefix alone counts; half a prefix does not.
        let mut c = MessageCounter::default();
        c.feed(&[0, 0, 0, 1, 0]);
        assert_eq!(c.count(), 1);
        c.feed(&[0; 100]);
        assert_eq!(c.count(), 1);
        c.feed(&[0, 0]);
        assert_eq!(c.count(), 1);
        // A huge declared length does not overflow.
        let mut c = MessageCounter::default();
        c.feed(&[0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
        assert_eq!(c.count(), 1);
    }
}
