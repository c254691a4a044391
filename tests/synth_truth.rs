//! The ground truth of `tracetail synth` against the packets it wrote, recomputed here by an
//! independent minimal pcap/TCP parser, and the latency distributions it claims.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use tracetail::synth::latency::LatencyModel;
use tracetail::synth::traffic::TrafficMix;
use tracetail::synth::{generate, DnsTruthRow, HttpTruthRow, OutputFormat, SynthConfig, Target};

struct Frame {
    ts: i64,
    src: IpAddr,
    dst: IpAddr,
    src_port: u16,
    dst_port: u16,
    protocol: u8,
    seq: u32,
    flags: u8,
    payload: Vec<u8>,
}

/// Little-endian classic pcap, Ethernet, no IP options (what synth writes).
fn parse_pcap(bytes: &[u8]) -> Vec<Frame> {
    let magic = u32::from_le_bytes(bytes[0..4].try_into().unwrap());
    let nanosecond = match magic {
        0xa1b2_3c4d => true,
        0xa1b2_c3d4 => false,
        _ => panic!("not a little-endian pcap"),
    };
    let le = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let be16 = |b: &[u8], at: usize| u16::from_be_bytes([b[at], b[at + 1]]);
    let mut frames = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        let seconds = i64::from(le(bytes, at));
        let fraction = i64::from(le(bytes, at + 4));
        let caplen = le(bytes, at + 8) as usize;
        let data = &bytes[at + 16..at + 16 + caplen];
        at += 16 + caplen;
        let ts = seconds * 1_000_000_000
            + if nanosecond {
                fraction
            } else {
                fraction * 1000
            };
        let (src, dst, protocol, l4, end) = match be16(data, 12) {
            0x0800 => {
                let s: [u8; 4] = data[26..30].try_into().unwrap();
                let d: [u8; 4] = data[30..34].try_into().unwrap();
                let total = usize::from(be16(data, 16));
                (
                    IpAddr::V4(Ipv4Addr::from(s)),
                    IpAddr::V4(Ipv4Addr::from(d)),
                    data[23],
                    34,
                    14 + total,
                )
            }
            0x86dd => {
                let s: [u8; 16] = data[22..38].try_into().unwrap();
                let d: [u8; 16] = data[38..54].try_into().unwrap();
                let payload_len = usize::from(be16(data, 18));
                (
                    IpAddr::V6(Ipv6Addr::from(s)),
                    IpAddr::V6(Ipv6Addr::from(d)),
                    data[20],
                    54,
                    54 + payload_len,
                )
            }
            other => panic!("unexpected ethertype {other:#x}"),
        };
        assert_eq!(end, data.len(), "IP length matches the frame");
        let (seq, flags, payload_at) = if protocol == 6 {
            let seq = u32::from_be_bytes(data[l4 + 4..l4 + 8].try_into().unwrap());
            (seq, data[l4 + 13], l4 + usize::from(data[l4 + 12] >> 4) * 4)
        } else {
            (0, 0, l4 + 8)
        };
        frames.push(Frame {
            ts,
            src,
            dst,
            src_port: be16(data, l4),
            dst_port: be16(data, l4 + 2),
            protocol,
            seq,
            flags,
            payload: data[payload_at..end].to_vec(),
        });
    }
    frames
}

/// Per TCP connection (keyed by client ip/port): data segments per direction as
/// (capture time, offset in the stream, bytes), in capture order.
type Segments = Vec<(i64, u64, Vec<u8>)>;

/// Unordered 5-tuple: (lower ip, port, higher ip, port, protocol).
type FlowKey = (IpAddr, u16, IpAddr, u16, u8);

fn tcp_streams(frames: &[Frame]) -> HashMap<(IpAddr, u16), [Segments; 2]> {
    let mut isn: HashMap<(IpAddr, u16), [u32; 2]> = HashMap::new();
    let mut streams: HashMap<(IpAddr, u16), [Segments; 2]> = HashMap::new();
    for f in frames.iter().filter(|f| f.protocol == 6) {
        let syn = f.flags & 0x02 != 0;
        let ack = f.flags & 0x10 != 0;
        if syn && !ack {
            isn.insert((f.src, f.src_port), [f.seq, 0]);
            streams.insert((f.src, f.src_port), Default::default());
            continue;
        }
        let (key, dir) = if isn.contains_key(&(f.src, f.src_port)) {
            ((f.src, f.src_port), 0)
        } else {
            ((f.dst, f.dst_port), 1)
        };
        let entry = isn.get_mut(&key).expect("packet of a known connection");
        if syn {
            entry[1] = f.seq;
            continue;
        }
        if !f.payload.is_empty() {
            let offset = u64::from(f.seq.wrapping_sub(entry[dir]).wrapping_sub(1));
            streams.get_mut(&key).unwrap()[dir].push((f.ts, offset, f.payload.clone()));
        }
    }
    streams
}

/// First packet with any byte of [a, b) and the packet after which all of it was seen.
fn first_last(segments: &Segments, a: u64, b: u64) -> (i64, i64) {
    let mut seen = vec![false; (b - a) as usize];
    let mut missing = seen.len();
    let mut first = None;
    for (ts, offset, bytes) in segments {
        let s = a.max(*offset);
        let e = b.min(offset + bytes.len() as u64);
        if s >= e {
            continue;
        }
        first.get_or_insert(*ts);
        for x in s..e {
            let slot = &mut seen[(x - a) as usize];
            if !*slot {
                *slot = true;
                missing -= 1;
            }
        }
        if missing == 0 {
            return (first.unwrap(), *ts);
        }
    }
    panic!("message bytes [{a}, {b}) never completed");
}

fn stream_bytes(segments: &Segments) -> Vec<u8> {
    let mut out = Vec::new();
    for (_, offset, bytes) in segments {
        let end = *offset as usize + bytes.len();
        if out.len() < end {
            out.resize(end, 0);
        }
        out[*offset as usize..end].copy_from_slice(bytes);
    }
    out
}

fn run(config: &SynthConfig) -> (Vec<Frame>, Vec<HttpTruthRow>, Vec<DnsTruthRow>, u64) {
    let mut http = Vec::new();
    let mut dns = Vec::new();
    let (summary, capture) = generate(config, Vec::new(), &mut http, &mut dns).unwrap();
    let frames = parse_pcap(&capture);
    assert_eq!(frames.len() as u64, summary.packets);
    let http: Vec<HttpTruthRow> = csv::Reader::from_reader(&http[..])
        .deserialize()
        .collect::<Result<_, _>>()
        .unwrap();
    let dns: Vec<DnsTruthRow> = csv::Reader::from_reader(&dns[..])
        .deserialize()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(http.len() as u64, summary.http_transactions);
    (frames, http, dns, summary.http_transactions)
}

/// Recomputes every row's four timestamps and byte counts from the packets.
fn check_against_packets(frames: &[Frame], rows: &[HttpTruthRow]) {
    assert!(
        frames.windows(2).all(|w| w[0].ts <= w[1].ts),
        "capture order"
    );
    assert!(
        rows.windows(2)
            .all(|w| w[0].request_first_ns <= w[1].request_first_ns),
        "truth in request_first order"
    );
    let streams = tcp_streams(frames);
    let mut by_connection: HashMap<(IpAddr, u16), Vec<&HttpTruthRow>> = HashMap::new();
    for row in rows {
        let ip: IpAddr = row.client_ip.parse().unwrap();
        by_connection
            .entry((ip, row.client_port))
            .or_default()
            .push(row);
    }
    // Flows in order of first packet, by unordered 5-tuple; TCP connections among them.
    let mut flows: HashMap<FlowKey, (u64, u64)> = HashMap::new();
    let mut tcp_count = 0;
    for f in frames {
        let key = if (f.src, f.src_port) < (f.dst, f.dst_port) {
            (f.src, f.src_port, f.dst, f.dst_port, f.protocol)
        } else {
            (f.dst, f.dst_port, f.src, f.src_port, f.protocol)
        };
        let next = flows.len() as u64;
        flows.entry(key).or_insert_with(|| {
            let tcp_index = tcp_count;
            if f.protocol == 6 {
                tcp_count += 1;
            }
            (next, tcp_index)
        });
    }
    for row in rows {
        let c: IpAddr = row.client_ip.parse().unwrap();
        let s: IpAddr = row.server_ip.parse().unwrap();
        let key = if (c, row.client_port) < (s, row.server_port) {
            (c, row.client_port, s, row.server_port, 6)
        } else {
            (s, row.server_port, c, row.client_port, 6)
        };
        assert_eq!(
            flows[&key],
            (row.flow_index, row.connection_index),
            "{row:?}"
        );
    }
    let mut connection_indexes: Vec<u64> = Vec::new();
    for (key, mut txs) in by_connection {
        txs.sort_by_key(|r| r.depth);
        let [client, server] = &streams[&key];
        let (client_bytes, server_bytes) = (stream_bytes(client), stream_bytes(server));
        let (mut request_at, mut response_at) = (0u64, 0u64);
        for (k, row) in txs.iter().enumerate() {
            assert_eq!(row.depth as usize, k + 1);
            let request = (request_at, request_at + row.request_bytes);
            let response = (response_at, response_at + row.response_bytes);
            request_at = request.1;
            response_at = response.1;
            let line = format!("{} {} HTTP/1.1\r\n", row.method, row.uri);
            assert!(client_bytes[request.0 as usize..].starts_with(line.as_bytes()));
            let status = format!("HTTP/1.1 {} ", row.status);
            assert!(server_bytes[response.0 as usize..].starts_with(status.as_bytes()));
            let (rf, rl) = first_last(client, request.0, request.1);
            let (sf, sl) = first_last(server, response.0, response.1);
            assert_eq!(
                (rf, rl, sf, sl),
                (
                    row.request_first_ns,
                    row.request_last_ns,
                    row.response_first_ns,
                    row.response_last_ns
                ),
                "{row:?}"
            );
        }
        assert_eq!(request_at, client_bytes.len() as u64, "whole client stream");
        assert_eq!(
            response_at,
            server_bytes.len() as u64,
            "whole server stream"
        );
        connection_indexes.push(txs[0].connection_index);
    }
    connection_indexes.sort_unstable();
    connection_indexes.dedup();
    assert!(connection_indexes.len() > 1);
}

#[test]
fn truth_matches_packets_and_constant_latency_is_exact() {
    let latency_ns = 7_500_000;
    let config = SynthConfig {
        seed: 5,
        target: Target::Requests(2500),
        latency: LatencyModel::Constant { ms: 7.5 },
        mix: TrafficMix {
            body_scale: 0.3,
            pipeline_prob: 0.2,
            duplicate_prob: 0.02,
            loss_prob: 0.02,
            reorder_prob: 0.1,
            dns_unanswered_prob: 0.1,
            ..TrafficMix::default()
        },
        ..SynthConfig::default()
    };
    let (frames, rows, dns, _) = run(&config);
    check_against_packets(&frames, &rows);
    for row in &rows {
        assert!(row.request_first_ns <= row.request_last_ns);
        assert!(row.response_first_ns <= row.response_last_ns);
        assert_eq!(row.drawn_latency_ns, latency_ns);
        let server = row.response_first_ns - row.request_last_ns;
        if row.pipelined {
            assert!(server >= latency_ns, "{row:?}");
        } else {
            assert_eq!(server, latency_ns, "{row:?}");
        }
    }
    // The mix the brief asks for is really there.
    let count = |f: &dyn Fn(&HttpTruthRow) -> bool| rows.iter().filter(|r| f(r)).count();
    assert!(count(&|r| r.pipelined) > 50);
    assert!(count(&|r| r.chunked) > 50);
    assert!(count(&|r| r.retransmitted) > 10);
    assert!(count(&|r| r.reordered) > 10);
    assert!(count(&|r| r.client_ip.contains(':')) > 50);
    assert!(count(&|r| r.method == "POST") > 50);
    assert!(count(&|r| r.depth > 1) > 500);
    for port in [80, 8080] {
        assert!(count(&|r| r.server_port == port) > 0, "port {port}");
    }
    // A lost segment shows: its retransmission completes the message long after the rest.
    assert!(
        count(&|r| r.retransmitted && r.request_last_ns - r.request_first_ns > 100_000_000) > 0
    );

    // DNS truth against the UDP packets.
    assert!(dns.iter().any(|d| !d.answered));
    assert!(dns.iter().filter(|d| d.answered).count() > 50);
    let udp: Vec<&Frame> = frames.iter().filter(|f| f.protocol == 17).collect();
    assert_eq!(
        udp.len(),
        dns.len() + dns.iter().filter(|d| d.answered).count()
    );
    for d in &dns {
        let query = udp
            .iter()
            .find(|f| f.src_port == d.client_port && f.src.to_string() == d.client_ip)
            .expect("query packet");
        assert_eq!(query.ts, d.query_ns);
        assert_eq!(&query.payload[..2], &d.id.to_be_bytes());
        let response = udp
            .iter()
            .find(|f| f.dst_port == d.client_port && f.dst.to_string() == d.client_ip);
        assert_eq!(response.map(|f| f.ts), d.response_ns);
    }
}

#[test]
fn microsecond_pcap_keeps_the_truth_exact() {
    let config = SynthConfig {
        seed: 8,
        target: Target::Requests(800),
        latency: LatencyModel::Constant { ms: 3.0 },
        mix: TrafficMix {
            body_scale: 0.2,
            pipeline_prob: 0.0,
            ..TrafficMix::default()
        },
        format: OutputFormat::Pcap { nanosecond: false },
        ..SynthConfig::default()
    };
    let (frames, rows, _, _) = run(&config);
    assert!(frames.iter().all(|f| f.ts % 1000 == 0));
    check_against_packets(&frames, &rows);
    for row in &rows {
        assert_eq!(row.request_first_ns % 1000, 0);
        assert_eq!(row.response_first_ns - row.request_last_ns, 3_000_000);
    }
}

fn server_latencies_ms(model: LatencyModel, requests: u64) -> Vec<f64> {
    let config = SynthConfig {
        seed: 99,
        target: Target::Requests(requests),
        latency: model,
        concurrency: 128,
        mix: TrafficMix {
            body_scale: 0.05,
            pipeline_prob: 0.0,
            dns_prob: 0.0,
            ..TrafficMix::default()
        },
        ..SynthConfig::default()
    };
    let mut http = Vec::new();
    generate(&config, std::io::sink(), &mut http, std::io::sink()).unwrap();
    let rows: Vec<HttpTruthRow> = csv::Reader::from_reader(&http[..])
        .deserialize()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len() as u64, requests);
    let mut ms: Vec<f64> = rows
        .iter()
        .map(|r| {
            let server = r.response_first_ns - r.request_last_ns;
            assert_eq!(
                server, r.drawn_latency_ns,
                "no pipelining: latency as drawn"
            );
            server as f64 / 1e6
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    ms
}

#[test]
fn pareto_latency_matches_theory() {
    // numpy: (pareto(3, n) + 1) * 10 has mean 15 and median 10 * 2^(1/3) = 12.599.
    let model = LatencyModel::Pareto {
        shape: 3.0,
        xm_ms: 10.0,
    };
    let ms = server_latencies_ms(model, 20_000);
    let mean = ms.iter().sum::<f64>() / ms.len() as f64;
    let median = ms[ms.len() / 2];
    assert!(ms[0] >= 10.0, "minimum is xm: {}", ms[0]);
    assert!((mean - 15.0).abs() < 0.45, "mean {mean}");
    assert!((median - 12.599).abs() < 0.25, "median {median}");
    // Tail: P(X > 20) = (10/20)^3 = 0.125.
    let above = ms.iter().filter(|&&x| x > 20.0).count() as f64 / ms.len() as f64;
    assert!((above - 0.125).abs() < 0.01, "P(X>20) = {above}");
}

#[test]
fn lognormal_latency_matches_theory() {
    let model = LatencyModel::LogNormal {
        mu: 3.0,
        sigma: 0.5,
    };
    let ms = server_latencies_ms(model, 10_000);
    let median = ms[ms.len() / 2];
    let mean = ms.iter().sum::<f64>() / ms.len() as f64;
    assert!((median / 3f64.exp() - 1.0).abs() < 0.03, "median {median}");
    assert!(
        (mean / (3.0f64 + 0.125).exp() - 1.0).abs() < 0.03,
        "mean {mean}"
    );
}
