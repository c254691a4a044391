//! A yardstick, not an analyzer: the least work that writes an `http --json`-shaped row per
//! HTTP/1 transaction, on tracetail's own reader and decoder. What it costs is the floor under
//! what any analysis writing those rows from this reader can cost, and so what the per-core
//! goals can ask (README, Performance).
//!
//!   cargo run --release --example http_floor -- FILE > rows.json
//!
//! It does none of what makes tracetail's rows right: no reassembly (a head must arrive whole
//! in one segment, in order, with no retransmission), no gaps, no chunked bodies, no
//! pipelining beyond a queue, no time order across connections, no limits on state, no
//! escaping in the JSON (a control byte in a URI makes its line invalid). On the benchmark's small-packet trace it finds ~90 % of
//! the transactions, with wrong times for some of them.

use foldhash::fast::RandomState;
use std::collections::{HashMap, VecDeque};
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use tracetail::capture::CaptureReader;
use tracetail::columns::writers::{push_ip, push_u64};
use tracetail::decode::{decode, Transport};

type Endpoint = (IpAddr, u16);

#[derive(Default)]
struct Request {
    first_ns: i64,
    bytes: u64,
    method: compact_str::CompactString,
    uri: compact_str::CompactString,
    host: compact_str::CompactString,
}

struct Response {
    request: Request,
    status: u16,
    first_ns: i64,
    last_ns: i64,
    bytes: u64,
    body_left: u64,
}

struct Connection {
    id: u64,
    client: Endpoint,
    server: Endpoint,
    transactions: u64,
    requests: VecDeque<Request>,
    response: Option<Response>,
}

fn main() -> io::Result<()> {
    let Some(path) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: http_floor FILE");
        std::process::exit(2);
    };
    let mut reader = CaptureReader::open(&path).map_err(io::Error::other)?;
    let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut connections: HashMap<(Endpoint, Endpoint), Connection, RandomState> =
        HashMap::default();
    let mut row = Vec::with_capacity(2048);
    let mut opened = 0;
    while let Ok(Some(packet)) = reader.next_packet() {
        let decoded = decode(packet.link_type, packet.data);
        let (Some((src, dst)), Transport::Tcp(tcp)) = (decoded.ip_endpoints(), decoded.transport)
        else {
            continue;
        };
        let (from, to) = ((src, tcp.src_port), (dst, tcp.dst_port));
        let key = if from <= to { (from, to) } else { (to, from) };
        if tcp.flags.fin() || tcp.flags.rst() {
            connections.remove(&key);
            continue;
        }
        let connection = connections.entry(key).or_insert_with(|| Connection {
            id: {
                opened += 1;
                opened
            },
            client: from,
            server: to,
            transactions: 0,
            requests: VecDeque::new(),
            response: None,
        });
        if tcp.payload.is_empty() {
            continue;
        }
        if from == connection.client {
            if let Some(request) = request(tcp.payload, packet.timestamp_ns) {
                connection.requests.push_back(request);
            }
            continue;
        }
        match connection.response.as_mut() {
            Some(response) => {
                response.last_ns = packet.timestamp_ns;
                response.bytes += tcp.payload.len() as u64;
                response.body_left = response.body_left.saturating_sub(tcp.payload.len() as u64);
            }
            None => {
                connection.response = response(tcp.payload, packet.timestamp_ns, || {
                    connection.requests.pop_front().unwrap_or_default()
                })
            }
        }
        if connection
            .response
            .as_ref()
            .is_some_and(|r| r.body_left == 0)
        {
            if let Some(response) = connection.response.take() {
                connection.transactions += 1;
                row.clear();
                write_row(&mut row, connection, &response);
                if out.write_all(&row).is_err() {
                    return Ok(()); // a closed pipe (`| head`)
                }
            }
        }
    }
    out.flush().or(Ok(()))
}

/// The head of a message that arrives whole in `payload`, without its blank line.
fn head(payload: &[u8]) -> Option<&[u8]> {
    let end = payload.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some(&payload[..end])
}

/// The value of header `name` (lowercase) in `head`.
fn header<'a>(head: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    head.split(|&b| b == b'\n').skip(1).find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let value = line.get(name.len()..)?.strip_prefix(b":")?;
        line[..name.len()]
            .eq_ignore_ascii_case(name)
            .then(|| value.trim_ascii())
    })
}

fn request(payload: &[u8], first_ns: i64) -> Option<Request> {
    let head = head(payload)?;
    let line = head.split(|&b| b == b'\r').next()?;
    let mut words = line.split(|&b| b == b' ');
    Some(Request {
        first_ns,
        bytes: payload.len() as u64,
        method: text(words.next()?),
        uri: text(words.next()?),
        host: text(header(head, b"host").unwrap_or_default()),
    })
}

fn text(bytes: &[u8]) -> compact_str::CompactString {
    compact_str::CompactString::from_utf8_lossy(bytes)
}

fn response(payload: &[u8], first_ns: i64, request: impl FnOnce() -> Request) -> Option<Response> {
    if !payload.starts_with(b"HTTP/1.") {
        return None;
    }
    let head = head(payload)?;
    let number = |text: &[u8]| std::str::from_utf8(text).ok()?.parse::<u64>().ok();
    let status = head.get(9..12).and_then(number).unwrap_or(0) as u16;
    let length = header(head, b"content-length")
        .and_then(number)
        .unwrap_or(0);
    let body_here = (payload.len() - head.len() - 4) as u64;
    Some(Response {
        request: request(),
        status,
        first_ns,
        last_ns: first_ns,
        bytes: payload.len() as u64,
        body_left: length.saturating_sub(body_here),
    })
}

/// The row, with `http --json`'s columns in its order (the ones this cannot know are null or
/// their usual values).
fn write_row(row: &mut Vec<u8>, connection: &Connection, response: &Response) {
    let request = &response.request;
    let number = |row: &mut Vec<u8>, key: &[u8], n: u64| {
        row.extend_from_slice(key);
        push_u64(row, n);
    };
    number(row, b"{\"capture\":\"-\",\"connection_id\":", connection.id);
    number(row, b",\"depth\":", connection.transactions);
    row.extend_from_slice(b",\"client_ip\":\"");
    push_ip(row, connection.client.0);
    number(row, b"\",\"client_port\":", connection.client.1.into());
    row.extend_from_slice(b",\"server_ip\":\"");
    push_ip(row, connection.server.0);
    number(row, b"\",\"server_port\":", connection.server.1.into());
    for (key, text) in [
        (&b",\"method\":\""[..], &request.method),
        (b"\",\"host\":\"", &request.host),
        (b"\",\"uri\":\"", &request.uri),
    ] {
        row.extend_from_slice(key);
        row.extend_from_slice(text.as_bytes());
    }
    number(
        row,
        b"\",\"version\":\"1.1\",\"status\":",
        response.status.into(),
    );
    number(row, b",\"request_bytes\":", request.bytes);
    number(row, b",\"response_bytes\":", response.bytes);
    row.extend_from_slice(b",\"request_body_bytes\":0");
    number(row, b",\"response_body_bytes\":", response.bytes);
    let (request_ns, first, last) = (request.first_ns, response.first_ns, response.last_ns);
    for (key, ns) in [
        (&b",\"request_first_ns\":"[..], request_ns),
        (b",\"request_last_ns\":", request_ns),
        (b",\"response_first_ns\":", first),
        (b",\"response_last_ns\":", last),
        (b",\"ttfb_ns\":", first - request_ns),
        (b",\"total_ns\":", last - request_ns),
        (b",\"server_ns\":", first - request_ns),
        (b",\"tshark_ns\":", last - request_ns),
    ] {
        number(row, key, ns.max(0) as u64);
    }
    row.extend_from_slice(
        b",\"flags\":[],\"gap\":false,\"tls\":false,\"sni\":null,\"stream_id\":null,\
          \"grpc_service\":null,\"grpc_method\":null,\"grpc_status\":null,\"grpc_message\":null,\
          \"grpc_request_messages\":null,\"grpc_response_messages\":null}\n",
    );
}
