//! HTTP/2 on hand-built connections: frames split over segments and many per segment (every
//! stream's four times checked against the segment that carried each defining byte), 1xx,
//! RST_STREAM, GOAWAY, server push, oversized frames and header blocks, the stream limit.
//! Header blocks use the HPACK static table and literals (RFC 7541 appendix A, §6).

mod common;

use tracetail::analyzers::{AnalyzerConfig, Event, HttpTransaction, TransactionAnalyzer};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PUSH_PROMISE: u8 = 5;
const GOAWAY: u8 = 7;
const END_STREAM: u8 = 1;
const END_HEADERS: u8 = 4;
const PADDED: u8 = 8;
const T0: i64 = 1_000_000_000;
const STEP: i64 = 1_000_000;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let n = payload.len();
    let mut f = vec![(n >> 16) as u8, (n >> 8) as u8, n as u8, kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// `GET path` with :authority example.com (static table indices and literals, no indexing).
fn request_block(path: &str) -> Vec<u8> {
    let mut b = vec![0x82, 0x86]; // :method GET, :scheme http
    b.push(0x04); // :path, literal without indexing
    b.push(path.len() as u8);
    b.extend_from_slice(path.as_bytes());
    b.extend_from_slice(&[0x01, 11]); // :authority, literal without indexing
    b.extend_from_slice(b"example.com");
    b
}

/// `:status code` as a literal without indexing (name: static index 8).
fn status_block(code: u16) -> Vec<u8> {
    let mut b = vec![0x08, 3];
    b.extend_from_slice(code.to_string().as_bytes());
    b
}

/// One direction's bytes being written, remembering where each frame starts and ends.
#[derive(Default)]
struct Side {
    bytes: Vec<u8>,
}

impl Side {
    /// Appends a frame; returns the offsets of its first and last byte.
    fn push(&mut self, f: Vec<u8>) -> (usize, usize) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(&f);
        (start, self.bytes.len() - 1)
    }
}

/// A segment schedule: (from client, range of that side's bytes).
type Schedule = Vec<(bool, std::ops::Range<usize>)>;

/// Sends the schedule on one connection (handshake first, one segment per entry, `STEP`
/// apart, the first payload at `T0`); returns the HTTP rows and, per side, each byte's time.
fn run(
    config: AnalyzerConfig,
    client: &Side,
    server: &Side,
    schedule: &Schedule,
) -> (Vec<HttpTransaction>, [Vec<i64>; 2]) {
    let mut analyzer = TransactionAnalyzer::new(config);
    let mut conn = common::TcpConversation::new(8080);
    let mut events = Vec::new();
    let mut times = [vec![0; client.bytes.len()], vec![0; server.bytes.len()]];
    let mut t = T0 - 3 * STEP;
    for (from_client, flags) in [(true, 0x02), (false, 0x12), (true, 0x10)] {
        conn.send(&mut analyzer, !from_client, flags, b"", t, &mut events);
        t += STEP;
    }
    // Bytes of a side left out of the schedule are never sent: a gap in its stream.
    let mut next = [0, 0];
    for (from_client, range) in schedule {
        let i = usize::from(!from_client);
        if range.start > next[i] {
            conn.skip(!from_client, (range.start - next[i]) as u32);
        }
        next[i] = range.end;
        let side = if *from_client { client } else { server };
        let bytes = &side.bytes[range.clone()];
        conn.send(&mut analyzer, !from_client, 0x18, bytes, t, &mut events);
        for i in range.clone() {
            times[usize::from(!from_client)][i] = t;
        }
        t += STEP;
    }
    conn.send(&mut analyzer, false, 0x11, b"", t, &mut events);
    conn.send(&mut analyzer, true, 0x11, b"", t + STEP, &mut events);
    analyzer.finish(&mut events);
    let rows = events
        .into_iter()
        .filter_map(|e| match e {
            Event::Http(h) => Some(*h),
            _ => None,
        })
        .collect();
    (rows, times)
}

fn by_stream(rows: &[HttpTransaction], id: u32) -> &HttpTransaction {
    rows.iter()
        .find(|r| r.stream_id == Some(id))
        .unwrap_or_else(|| panic!("stream {id} in {rows:#?}"))
}

/// Deterministic splitter: cuts `len` bytes into pieces of 1..=max bytes.
fn pieces(len: usize, seed: u64, max: usize) -> Vec<std::ops::Range<usize>> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::new();
    let mut at = 0;
    while at < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let n = 1 + (x % max as u64) as usize;
        out.push(at..(at + n).min(len));
        at += n;
    }
    out
}

/// Three streams multiplexed, answered out of order, a 100 Continue, padding, a body over
/// several DATA frames, trailers. Cut into segments of every size from 1 byte (frames split
/// everywhere) to whole directions (many frames per segment): each stream's times are those
/// of the segments carrying the first byte of its opening HEADERS, the last byte of the
/// client's END_STREAM frame, the first byte of the final response HEADERS and the last byte
/// of the server's END_STREAM frame.
#[test]
fn four_times_follow_the_bytes_whatever_the_segmentation() {
    let mut c = Side::default();
    let mut s = Side::default();
    c.push(PREFACE.to_vec());
    c.push(frame(SETTINGS, 0, 0, &[]));
    let req1 = c.push(frame(
        HEADERS,
        END_HEADERS | END_STREAM,
        1,
        &request_block("/one"),
    ));
    let req3 = c.push(frame(HEADERS, END_HEADERS, 3, &request_block("/three")));
    let body3 = c.push(frame(DATA, END_STREAM | PADDED, 3, &[2, b'h', b'i', 0, 0]));
    let req5 = c.push(frame(
        HEADERS,
        END_HEADERS | END_STREAM,
        5,
        &request_block("/five"),
    ));
    s.push(frame(SETTINGS, 0, 0, &[0, 5, 0, 0, 0x40, 0]));
    s.push(frame(SETTINGS, 1, 0, &[]));
    c.push(frame(SETTINGS, 1, 0, &[]));
    let resp3 = s.push(frame(HEADERS, END_HEADERS | END_STREAM, 3, &[0x8d])); // :status 404
    s.push(frame(HEADERS, END_HEADERS, 1, &status_block(100)));
    let resp1 = s.push(frame(HEADERS, END_HEADERS, 1, &[0x88])); // :status 200
    s.push(frame(DATA, 0, 1, &[7; 300]));
    s.push(frame(DATA, PADDED, 1, &[4, 7, 7, 0, 0, 0, 0]));
    let trailers1 = s.push(frame(
        HEADERS,
        END_HEADERS | END_STREAM,
        1,
        &[0x40, 1, b'x', 1, b'y'],
    ));
    let resp5 = s.push(frame(HEADERS, END_HEADERS, 5, &status_block(204)));
    let end5 = s.push(frame(DATA, END_STREAM, 5, &[]));

    for max in [1, 2, 3, 7, 9, 10, 64, 1000, 100_000] {
        for seed in 0..4 {
            // The client's bytes (the preface too may come a byte at a time), then the
            // server's.
            let cp = pieces(c.bytes.len(), seed, max);
            let sp = pieces(s.bytes.len(), seed + 100, max);
            let mut schedule: Schedule = cp.into_iter().map(|r| (true, r)).collect();
            schedule.extend(sp.into_iter().map(|r| (false, r)));
            let (rows, [ct, st]) = run(AnalyzerConfig::default(), &c, &s, &schedule);
            assert_eq!(rows.len(), 3, "max {max}: {rows:#?}");
            let check = |id: u32, req: (usize, usize), req_end: usize, resp: usize, end: usize| {
                let r = by_stream(&rows, id);
                let got = [
                    r.request_first_ns,
                    r.request_last_ns,
                    r.response_first_ns,
                    r.response_last_ns,
                ];
                let want = [ct[req.0], ct[req_end], st[resp], st[end]].map(Some);
                assert_eq!(
                    got, want,
                    "stream {id}, pieces up to {max}, seed {seed}: {r:#?}"
                );
                assert!(r.flags.is_empty() || r.flags == ["continue"], "{r:#?}");
            };
            check(1, req1, req1.1, resp1.0, trailers1.1);
            check(3, req3, body3.1, resp3.0, resp3.1);
            check(5, req5, req5.1, resp5.0, end5.1);
            let r1 = by_stream(&rows, 1);
            assert_eq!(
                (r1.method.as_str(), r1.uri.as_str(), r1.host.as_deref()),
                ("GET", "/one", Some("example.com"))
            );
            assert_eq!((r1.status, r1.version.as_str()), (Some(200), "2"));
            assert_eq!(r1.flags, ["continue"]);
            assert_eq!(r1.response_body_bytes, 302);
            let r3 = by_stream(&rows, 3);
            assert_eq!((r3.status, r3.request_body_bytes), (Some(404), 2));
            assert_eq!(
                r3.request_bytes,
                (req3.1 - req3.0 + 1 + body3.1 - body3.0 + 1) as u64
            );
            assert_eq!(by_stream(&rows, 5).status, Some(204));
            // Rows come out in request order.
            let depths: Vec<u32> = rows.iter().map(|r| r.depth).collect();
            assert_eq!(depths, [1, 2, 3]);
        }
    }
}

/// The two sides of a conversation of frames, each frame one segment, in the order given.
fn conversation(frames: impl IntoIterator<Item = (bool, Vec<u8>)>) -> (Side, Side, Schedule) {
    let (mut c, mut s) = (Side::default(), Side::default());
    let mut schedule = Vec::new();
    for (client, f) in frames {
        let side = if client { &mut c } else { &mut s };
        let (first, last) = side.push(f);
        schedule.push((client, first..last + 1));
    }
    (c, s, schedule)
}

#[test]
fn reset_goaway_and_push() {
    let mut preface = PREFACE.to_vec();
    preface.extend(frame(SETTINGS, 0, 0, &[]));
    let mut frames = vec![(true, preface)];
    for (id, path) in [(1, "/a"), (3, "/b"), (5, "/c"), (7, "/d")] {
        frames.push((true, frame(HEADERS, 5, id, &request_block(path))));
    }
    // The server promises /pushed on stream 1 (as stream 2), then answers 1 and pushes 2.
    let mut promise = vec![0, 0, 0, 2];
    promise.extend(request_block("/pushed"));
    frames.extend([
        (false, frame(PUSH_PROMISE, END_HEADERS, 1, &promise)),
        (false, frame(HEADERS, 5, 1, &[0x88])),
        (false, frame(HEADERS, 4, 2, &[0x88])),
        (false, frame(DATA, 1, 2, b"pushed body")),
        // The client cancels 3; the server says it processed streams up to 5.
        (true, frame(RST_STREAM, 0, 3, &[0, 0, 0, 8])),
        (false, frame(GOAWAY, 0, 0, &[0, 0, 0, 5, 0, 0, 0, 0])),
        (false, frame(HEADERS, 5, 5, &[0x88])),
    ]);
    let (c, s, schedule) = conversation(frames);
    let (rows, _) = run(AnalyzerConfig::default(), &c, &s, &schedule);
    let at = |k: usize| T0 + k as i64 * STEP;
    assert_eq!(rows.len(), 5, "{rows:#?}");
    let r1 = by_stream(&rows, 1);
    assert!(r1.flags.is_empty(), "{r1:#?}");
    let pushed = by_stream(&rows, 2);
    assert_eq!(pushed.flags, ["push"]);
    assert_eq!(pushed.uri, "/pushed");
    // Request times: the PUSH_PROMISE's segment (the 6th).
    assert_eq!(pushed.request_first_ns, Some(at(5)));
    assert_eq!(pushed.request_last_ns, Some(at(5)));
    assert_eq!(pushed.response_first_ns, Some(at(7)));
    assert_eq!(pushed.response_last_ns, Some(at(8)));
    assert_eq!(pushed.response_body_bytes, 11);
    assert_eq!(by_stream(&rows, 3).flags, ["reset"]);
    let r5 = by_stream(&rows, 5);
    assert_eq!(
        (r5.status, r5.flags.as_slice()),
        (Some(200), &["goaway"][..])
    );
    // Stream 7 was above the GOAWAY's last stream: never processed.
    let r7 = by_stream(&rows, 7);
    assert_eq!(r7.flags, ["goaway", "unanswered"]);
    assert_eq!(r7.response_first_ns, None);
}

#[test]
fn oversized_frames_and_header_blocks_are_flagged_with_memory_bounded() {
    let mut preface = PREFACE.to_vec();
    preface.extend(frame(SETTINGS, 0, 0, &[]));
    let mut big_block = request_block("/big");
    for i in 0..40u8 {
        big_block.extend_from_slice(&[0x00, 4, b'x', b'-', b'h', i, 20]);
        big_block.extend_from_slice(&[b'v'; 20]);
    }
    let frames = [
        (true, preface),
        (true, frame(HEADERS, 5, 1, &request_block("/small"))),
        (true, frame(HEADERS, 5, 3, &big_block)),
        (false, frame(HEADERS, 5, 3, &[0x88])),
        // 20000 bytes announced: above the default SETTINGS_MAX_FRAME_SIZE (16384).
        (false, frame(DATA, 0, 1, &vec![0; 20_000])),
        (false, frame(HEADERS, 5, 1, &[0x88])),
    ];
    let (c, s, schedule) = conversation(frames);
    let config = AnalyzerConfig {
        max_header_bytes: 500,
        ..AnalyzerConfig::default()
    };
    let (rows, _) = run(config, &c, &s, &schedule);
    assert_eq!(rows.len(), 2, "{rows:#?}");
    let r3 = by_stream(&rows, 3);
    assert_eq!(r3.flags, ["headers_too_large"]);
    assert_eq!(r3.uri, "", "fields of a block not decoded are not guessed");
    assert_eq!(r3.request_first_ns, Some(T0 + 2 * STEP));
    assert_eq!(r3.status, Some(200));
    let r1 = by_stream(&rows, 1);
    assert_eq!(r1.uri, "/small");
    assert_eq!(r1.flags, ["frame_too_large", "unanswered"]);
}

#[test]
fn streams_in_flight_are_bounded() {
    let mut preface = PREFACE.to_vec();
    preface.extend(frame(SETTINGS, 0, 0, &[]));
    let mut frames = vec![(true, preface)];
    for id in (1..=19).step_by(2) {
        frames.push((true, frame(HEADERS, 5, id, &request_block("/x"))));
    }
    let (c, s, schedule) = conversation(frames);
    let config = AnalyzerConfig {
        max_pending_requests: 3,
        ..AnalyzerConfig::default()
    };
    let (rows, _) = run(config, &c, &s, &schedule);
    assert_eq!(rows.len(), 10);
    assert!(rows.iter().all(|r| r.flags == ["unanswered"]));
    // Evicted oldest first, as they come: in request order.
    let ids: Vec<u32> = rows.iter().map(|r| r.stream_id.unwrap()).collect();
    assert_eq!(ids, (1..=19).step_by(2).collect::<Vec<u32>>());
}

/// A first segment too short to tell HTTP/2's preface from an HTTP/1.x request ("P" of a
/// POST) is held by HTTP/2 and handed to HTTP/1.x with the bytes it held: the request is
/// found and dated from its first byte.
#[test]
fn short_first_segments_still_reach_http1() {
    let mut c = Side::default();
    let mut s = Side::default();
    c.push(b"POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi".to_vec());
    s.push(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n".to_vec());
    let n = c.bytes.len();
    let schedule: Schedule = vec![
        (true, 0..1),
        (true, 1..3),
        (true, 3..n),
        (false, 0..s.bytes.len()),
    ];
    let (rows, _) = run(AnalyzerConfig::default(), &c, &s, &schedule);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let r = &rows[0];
    assert_eq!(
        (r.method.as_str(), r.uri.as_str(), r.status),
        ("POST", "/form", Some(201))
    );
    assert_eq!((r.version.as_str(), r.stream_id), ("1.1", None));
    assert_eq!(r.request_first_ns, Some(T0));
    assert_eq!(r.request_last_ns, Some(T0 + 2 * STEP));
    assert_eq!(r.response_first_ns, Some(T0 + 3 * STEP));
    assert!(r.flags.is_empty(), "{r:#?}");
}

/// A response that arrives after the client reset its stream is no new row (the stream was
/// reported with `reset`); without the connection's start, a response to a request before
/// the capture is a row of its own (`orphan_response`).
#[test]
fn late_answers_and_orphans() {
    let mut preface = PREFACE.to_vec();
    preface.extend(frame(SETTINGS, 0, 0, &[]));
    let frames = [
        (true, preface),
        (true, frame(HEADERS, 5, 1, &request_block("/gone"))),
        (true, frame(RST_STREAM, 0, 1, &[0, 0, 0, 8])),
        (false, frame(HEADERS, 5, 1, &[0x88])),
    ];
    let (c, s, schedule) = conversation(frames);
    let (rows, _) = run(AnalyzerConfig::default(), &c, &s, &schedule);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0].flags, ["reset"]);

    // Mid-connection: the server answers streams 3 and 5 (requests not captured), then the
    // client opens 7.
    let frames = [
        (false, frame(HEADERS, 5, 3, &[0x88])),
        (false, frame(HEADERS, 5, 5, &[0x8d])),
        (true, frame(HEADERS, 5, 7, &request_block("/seven"))),
        (false, frame(HEADERS, 5, 7, &[0x88])),
    ];
    let (c, s, schedule) = conversation(frames);
    let (rows, _) = run(AnalyzerConfig::default(), &c, &s, &schedule);
    let summary: Vec<(Option<u32>, Option<u16>, &str)> = rows
        .iter()
        .map(|r| (r.stream_id, r.status, r.uri.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (Some(3), Some(200), ""),
            (Some(5), Some(404), ""),
            (Some(7), Some(200), "/seven")
        ]
    );
    assert_eq!(rows[0].flags, ["orphan_response"]);
    assert_eq!(rows[0].request_first_ns, None);
    assert_eq!(rows[2].request_first_ns, Some(T0 + 2 * STEP));
}

/// Gaps: inside a DATA frame the frame's length says where the next frame starts (only its
/// stream gets `gap`); between frames parsing resumes at the first segment that starts with
/// frames, and the streams open across the gap are still timed exactly.
#[test]
fn gaps_inside_and_between_frames() {
    let mut preface = PREFACE.to_vec();
    preface.extend(frame(SETTINGS, 0, 0, &[]));
    let data1 = frame(DATA, END_STREAM, 1, &[1; 900]);
    let data3 = frame(DATA, END_STREAM, 3, &[3; 900]);
    let frames = [
        (true, preface),
        (true, frame(HEADERS, 5, 1, &request_block("/one"))),
        (true, frame(HEADERS, 5, 3, &request_block("/three"))),
        (true, frame(HEADERS, 5, 5, &request_block("/five"))),
        (false, frame(HEADERS, 4, 1, &[0x88])),
        (false, data1[..300].to_vec()),
        (false, data1[300..600].to_vec()), // lost: inside the DATA frame
        (false, data1[600..].to_vec()),
        (false, frame(HEADERS, 4, 3, &[0x88])), // lost: between frames
        (false, data3[..300].to_vec()),         // skipped: a frame not whole in it
        (false, data3[300..].to_vec()),         // skipped: starts inside a frame
        (false, frame(HEADERS, 5, 5, &[0x8d])), // parsing resumes here
    ];
    let (c, s, mut schedule) = conversation(frames);
    let lost = [6, 8];
    let sent: Vec<usize> = (0..schedule.len()).filter(|i| !lost.contains(i)).collect();
    schedule = sent.iter().map(|&i| schedule[i].clone()).collect();
    let (rows, _) = run(AnalyzerConfig::default(), &c, &s, &schedule);
    assert_eq!(rows.len(), 3, "{rows:#?}");
    let r1 = by_stream(&rows, 1);
    assert_eq!(
        (r1.status, r1.flags.as_slice()),
        (Some(200), &["gap"][..]),
        "{rows:#?}"
    );
    assert_eq!(r1.response_body_bytes, 600, "the bytes seen");
    // Sent: 5 segments, the DATA's first (T0 + 5), its last (T0 + 6).
    assert_eq!(r1.response_last_ns, Some(T0 + 6 * STEP));
    let r3 = by_stream(&rows, 3);
    assert_eq!(r3.status, None);
    assert!(
        r3.flags.contains(&"gap") && r3.flags.contains(&"unanswered"),
        "{r3:#?}"
    );
    let r5 = by_stream(&rows, 5);
    assert_eq!((r5.status, r5.flags.as_slice()), (Some(404), &["gap"][..]));
    assert_eq!(r5.response_first_ns, Some(T0 + 9 * STEP));
    assert_eq!(r5.response_last_ns, Some(T0 + 9 * STEP));
    assert_eq!(r5.request_first_ns, Some(T0 + 3 * STEP));
}
