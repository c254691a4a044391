//! IP fragment reassembly (`decode::defrag`) from literal header bytes: IPv4 and IPv6, in
//! order, out of order, duplicates and overlaps, a tunnelled fragment, timeouts and limits,
//! and a whole pass over a small capture of a fragmented DNS exchange.

mod common;

use tracetail::capture::{LinkType, PcapWriter};
use tracetail::decode::defrag::{Defragmenter, Outcome, Reassembled, MAX_DATAGRAM_LEN};
use tracetail::decode::{decode, Network, Transport};
use tracetail::pipeline::{analyze_file, PassOptions, Record};

const SEC: i64 = 1_000_000_000;

/// An IPv4 header (no options) 10.0.0.1 -> 10.0.0.2, protocol UDP, id `ident`, followed by
/// `data`; `offset` in bytes (a multiple of 8), `more` = more-fragments.
fn ipv4_fragment(ident: u16, offset: u16, more: bool, data: &[u8]) -> Vec<u8> {
    let total = (20 + data.len()) as u16;
    let flags_offset = (offset / 8) | if more { 0x2000 } else { 0 };
    let mut p = vec![
        0x45,
        0x00,
        (total >> 8) as u8,
        total as u8, // version/IHL, DSCP, total length
        (ident >> 8) as u8,
        ident as u8,
        (flags_offset >> 8) as u8,
        flags_offset as u8,
        64,
        17,
        0x00,
        0x00, // TTL, protocol UDP, checksum (not checked)
        10,
        0,
        0,
        1, // source
        10,
        0,
        0,
        2, // destination
    ];
    p.extend_from_slice(data);
    p
}

/// An Ethernet II header (IPv4 or IPv6 by `ethertype`) in front of `payload`.
fn ethernet(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![
        0x02,
        0,
        0,
        0,
        0,
        0x02, // destination MAC
        0x02,
        0,
        0,
        0,
        0,
        0x01, // source MAC
        (ethertype >> 8) as u8,
        ethertype as u8,
    ];
    f.extend_from_slice(payload);
    f
}

/// An IPv6 header 2001:db8::1 -> 2001:db8::2 with a fragment header (next header UDP).
fn ipv6_fragment(ident: u32, offset: u16, more: bool, data: &[u8]) -> Vec<u8> {
    let payload_len = (8 + data.len()) as u16;
    let mut p = vec![
        0x60,
        0,
        0,
        0,
        (payload_len >> 8) as u8,
        payload_len as u8,
        44,
        64, // next header: fragment
        0x20,
        0x01,
        0x0d,
        0xb8,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        1, // source
        0x20,
        0x01,
        0x0d,
        0xb8,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        2, // destination
    ];
    let offset_field = offset | u16::from(more);
    p.extend_from_slice(&[17, 0, (offset_field >> 8) as u8, offset_field as u8]);
    p.extend_from_slice(&ident.to_be_bytes());
    p.extend_from_slice(data);
    p
}

/// A UDP datagram 1234 -> 53 with `payload` (checksum 0).
fn udp(payload: &[u8]) -> Vec<u8> {
    let len = (8 + payload.len()) as u16;
    let mut d = vec![0x04, 0xd2, 0x00, 0x35, (len >> 8) as u8, len as u8, 0, 0];
    d.extend_from_slice(payload);
    d
}

/// Payload bytes that show where each byte came from.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// Splits `datagram` (a transport header + payload) into IPv4 fragments at `cuts` (bytes,
/// multiples of 8).
fn split_ipv4(ident: u16, datagram: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(datagram.len());
    bounds
        .windows(2)
        .map(|w| {
            let more = w[1] < datagram.len();
            ipv4_fragment(ident, w[0] as u16, more, &datagram[w[0]..w[1]])
        })
        .collect()
}

/// Pushes raw-IPv4 frames; returns the outcome of each.
fn push_raw(defrag: &mut Defragmenter, frames: &[Vec<u8>], now_ns: i64) -> Vec<Outcome> {
    frames
        .iter()
        .map(|f| {
            let decoded = decode(LinkType::RAW, f);
            assert!(decoded.fragment.is_some(), "a fragment");
            defrag.push(now_ns, f.len() as u32, &decoded)
        })
        .collect()
}

fn only_complete(outcomes: Vec<Outcome>) -> Reassembled {
    let mut complete = None;
    for (i, outcome) in outcomes.into_iter().enumerate() {
        match outcome {
            Outcome::Complete(r) => {
                assert!(complete.is_none(), "completed twice");
                complete = Some((i, r));
            }
            Outcome::Held => {}
            Outcome::PassOn => panic!("fragment {i} passed on"),
        }
    }
    complete.expect("datagram completed").1
}

fn udp_payload(r: &Reassembled) -> Vec<u8> {
    match r.decode().transport {
        Transport::Udp(u) => {
            assert_eq!((u.src_port, u.dst_port, u.payload_missing), (1234, 53, 0));
            u.payload.to_vec()
        }
        other => panic!("no UDP: {other:?}"),
    }
}

#[test]
fn ipv4_three_fragments_in_order() {
    let payload = pattern(3000 - 8);
    let datagram = udp(&payload);
    let frames = split_ipv4(7, &datagram, &[1480, 2960]);
    // Without reassembly the later fragments have no transport.
    assert_eq!(decode(LinkType::RAW, &frames[1]).transport, Transport::None);
    let mut defrag = Defragmenter::default();
    let outcomes = push_raw(&mut defrag, &frames, SEC);
    assert!(
        matches!(outcomes[2], Outcome::Complete(_)),
        "the last one completes"
    );
    let r = only_complete(outcomes);
    assert_eq!(udp_payload(&r), payload);
    let decoded = r.decode();
    let Network::Ipv4(ip) = decoded.network else {
        panic!("not IPv4: {:?}", decoded.network)
    };
    assert_eq!(ip.total_len as usize, 20 + datagram.len());
    assert!(!ip.is_fragment);
    assert_eq!(ip.identification, 7);
    assert_eq!(decoded.fragment, None);
    assert_eq!(decoded.layers.as_slice(), ["raw", "ip", "udp"]);
    assert_eq!(r.fragments, 3);
    assert_eq!(
        r.wire_len,
        frames.iter().map(|f| f.len() as u64).sum::<u64>()
    );
    assert_eq!(defrag.stats().completed, 1);
    assert_eq!(defrag.in_progress(), 0);
}

#[test]
fn ipv4_fragments_out_of_order() {
    let payload = pattern(2500);
    let datagram = udp(&payload);
    let frames = split_ipv4(8, &datagram, &[800, 1600]);
    for order in [[2, 0, 1], [1, 2, 0], [2, 1, 0]] {
        let shuffled: Vec<Vec<u8>> = order.iter().map(|&i| frames[i].clone()).collect();
        let mut defrag = Defragmenter::default();
        let outcomes = push_raw(&mut defrag, &shuffled, SEC);
        assert!(matches!(outcomes[2], Outcome::Complete(_)), "{order:?}");
        assert_eq!(udp_payload(&only_complete(outcomes)), payload, "{order:?}");
    }
}

#[test]
fn ipv4_duplicate_and_overlap_first_copy_wins() {
    let payload = pattern(1200);
    let datagram = udp(&payload);
    let frames = split_ipv4(9, &datagram, &[400, 800]);
    // Bytes 384..800 again, but zeroed: overlaps the end of fragment 0 and all of 1.
    let overlap = ipv4_fragment(9, 384, true, &[0u8; 416]);
    let sequence = vec![
        frames[0].clone(),
        frames[1].clone(),
        frames[1].clone(), // exact duplicate
        overlap,
        frames[2].clone(),
    ];
    let mut defrag = Defragmenter::default();
    let r = only_complete(push_raw(&mut defrag, &sequence, SEC));
    assert_eq!(
        udp_payload(&r),
        payload,
        "the first copy of every byte wins"
    );
    assert_eq!(defrag.stats().overlapping, 2);
    assert_eq!(r.fragments, 5);
}

#[test]
fn ipv4_overlap_fills_a_hole_around_held_bytes() {
    // Fragment 1 (400..800) first, then one covering 0..1000 with 0xee where bytes are
    // held: only 0..400 and 800..1000 are taken from it; the last fragment ends at 1208.
    let payload = pattern(1200);
    let datagram = udp(&payload);
    let frames = split_ipv4(10, &datagram, &[400, 800]);
    let mut cover = datagram[..1000].to_vec();
    cover[400..800].fill(0xee);
    let cover = ipv4_fragment(10, 0, true, &cover);
    let mut defrag = Defragmenter::default();
    let sequence = [frames[1].clone(), cover, frames[2].clone()];
    let r = only_complete(push_raw(&mut defrag, &sequence, SEC));
    assert_eq!(udp_payload(&r), payload);
    // The cover overlaps fragment 1, and the last fragment overlaps the cover (800..1000).
    assert_eq!(defrag.stats().overlapping, 2);
}

#[test]
fn ipv6_fragments_over_ethernet_keep_the_link() {
    let payload = pattern(2000);
    let datagram = udp(&payload);
    let first = ethernet(
        0x86dd,
        &ipv6_fragment(0xabcd_0001, 0, true, &datagram[..1232]),
    );
    let last = ethernet(
        0x86dd,
        &ipv6_fragment(0xabcd_0001, 1232, false, &datagram[1232..]),
    );
    let mut defrag = Defragmenter::default();
    let held = decode(LinkType::ETHERNET, &last);
    let frag = held.fragment.expect("fragment");
    assert!(frag.ipv6 && !frag.more_fragments && !frag.inner);
    assert_eq!((frag.offset, frag.identification), (1232, 0xabcd_0001));
    assert!(matches!(defrag.push(SEC, 0, &held), Outcome::Held));
    let Outcome::Complete(r) = defrag.push(SEC, 0, &decode(LinkType::ETHERNET, &first)) else {
        panic!("not complete")
    };
    assert_eq!(udp_payload(&r), payload);
    let decoded = r.decode();
    assert!(decoded.link.has_ethernet);
    assert_eq!(decoded.link.src_mac, Some([2, 0, 0, 0, 0, 1]));
    assert_eq!(decoded.layers.as_slice(), ["eth", "ipv6", "udp"]);
    let Network::Ipv6(ip) = decoded.network else {
        panic!("not IPv6")
    };
    assert_eq!(ip.payload_len as usize, datagram.len());
    assert_eq!((ip.next_header, ip.is_fragment), (17, false));
}

#[test]
fn ipv6_atomic_fragment_completes_at_once() {
    let payload = pattern(100);
    let frame = ipv6_fragment(5, 0, false, &udp(&payload));
    let mut defrag = Defragmenter::default();
    let Outcome::Complete(r) = defrag.push(0, 0, &decode(LinkType::RAW, &frame)) else {
        panic!("an atomic fragment is a whole datagram")
    };
    assert_eq!(udp_payload(&r), payload);
}

#[test]
fn tunnelled_fragment_keeps_the_outer_headers() {
    // Ethernet / IPv4 (GRE) / GRE / IPv4 fragment: the inner header is the fragmented one.
    let payload = pattern(1000);
    let datagram = udp(&payload);
    let outer = |inner: &[u8]| {
        let mut gre = vec![0x00, 0x00, 0x08, 0x00];
        gre.extend_from_slice(inner);
        let mut ip = ipv4_fragment(1, 0, false, &gre);
        ip[9] = 47; // protocol GRE
        ip[12..20].copy_from_slice(&[192, 0, 2, 1, 192, 0, 2, 2]);
        ethernet(0x0800, &ip)
    };
    let frames = [
        outer(&ipv4_fragment(3, 0, true, &datagram[..512])),
        outer(&ipv4_fragment(3, 512, false, &datagram[512..])),
    ];
    let mut defrag = Defragmenter::default();
    let mut outcomes = frames.iter().map(|f| {
        let d = decode(LinkType::ETHERNET, f);
        let frag = d.fragment.expect("inner fragment");
        assert!(frag.inner);
        defrag.push(0, f.len() as u32, &d)
    });
    assert!(matches!(outcomes.next(), Some(Outcome::Held)));
    let Some(Outcome::Complete(r)) = outcomes.next() else {
        panic!("not complete")
    };
    assert_eq!(udp_payload(&r), payload);
    let decoded = r.decode();
    assert_eq!(decoded.layers.as_slice(), ["eth", "ip", "gre", "ip", "udp"]);
    let Network::Ipv4(outer_ip) = decoded.network else {
        panic!("outer")
    };
    assert_eq!(outer_ip.src.octets(), [192, 0, 2, 1]);
    let Some(Network::Ipv4(inner_ip)) = decoded.inner_network else {
        panic!("inner")
    };
    assert_eq!(inner_ip.src.octets(), [10, 0, 0, 1]);
}

#[test]
fn missing_fragment_times_out() {
    let datagram = udp(&pattern(2000));
    let frames = split_ipv4(11, &datagram, &[800, 1600]);
    let mut defrag = Defragmenter::new(16, 30 * SEC);
    let outcomes = push_raw(&mut defrag, &[frames[0].clone(), frames[2].clone()], 0);
    assert!(outcomes.iter().all(|o| matches!(o, Outcome::Held)));
    defrag.expire(30 * SEC);
    assert_eq!(defrag.in_progress(), 1, "not yet past the timeout");
    defrag.expire(31 * SEC);
    assert_eq!((defrag.in_progress(), defrag.stats().expired), (0, 1));
    // The straggler starts a new datagram that cannot complete.
    let late = push_raw(&mut defrag, &frames[1..2], 32 * SEC);
    assert!(matches!(late[0], Outcome::Held));

    // A stale datagram is also dropped when its next fragment arrives after the timeout.
    let mut defrag = Defragmenter::new(16, 30 * SEC);
    push_raw(&mut defrag, &frames[..2], 0);
    let outcomes = push_raw(&mut defrag, &frames[2..], 40 * SEC);
    assert!(matches!(outcomes[0], Outcome::Held));
    assert_eq!(defrag.stats().expired, 1);
}

#[test]
fn limits_are_respected() {
    // At most 2 datagrams in progress: the third evicts the oldest.
    let datagram = udp(&pattern(1000));
    let mut defrag = Defragmenter::new(2, 30 * SEC);
    for (ident, at) in [(1u16, 0), (2, SEC), (3, 2 * SEC)] {
        let first = split_ipv4(ident, &datagram, &[504]).remove(0);
        push_raw(&mut defrag, &[first], at);
    }
    assert_eq!((defrag.in_progress(), defrag.stats().evicted), (2, 1));
    // Datagram 1 was evicted: its last fragment no longer completes it; 2 and 3 still do.
    for (ident, completes) in [(2u16, true), (3, true), (1, false)] {
        let last = split_ipv4(ident, &datagram, &[504]).remove(1);
        let outcome = push_raw(&mut defrag, &[last], 3 * SEC).remove(0);
        assert_eq!(
            matches!(outcome, Outcome::Complete(_)),
            completes,
            "{ident}"
        );
    }

    // A datagram may reach 64 KiB - 1 (header included), not one byte more.
    let largest = ipv4_fragment(4, 65_512, false, &[0u8; 3]);
    assert_eq!(20 + 65_512 + 3, MAX_DATAGRAM_LEN);
    let outcome = push_raw(&mut defrag, &[largest], 4 * SEC).remove(0);
    assert!(matches!(outcome, Outcome::Held));
    let too_far = ipv4_fragment(40, 65_512, false, &[0u8; 4]);
    let outcome = push_raw(&mut defrag, &[too_far], 4 * SEC).remove(0);
    assert!(matches!(outcome, Outcome::PassOn));
    assert_eq!(defrag.stats().oversize, 1);

    // A fragment cut by the snapshot length is passed on as it is.
    let mut cut = split_ipv4(5, &datagram, &[504]).remove(0);
    cut.truncate(100);
    let outcome = push_raw(&mut defrag, &[cut], 4 * SEC).remove(0);
    assert!(matches!(outcome, Outcome::PassOn));
    assert_eq!(defrag.stats().truncated, 1);

    // Not a fragment at all.
    let whole = ipv4_fragment(6, 0, false, &datagram);
    let decoded = decode(LinkType::RAW, &whole);
    assert_eq!(decoded.fragment, None);
    assert!(matches!(defrag.push(0, 0, &decoded), Outcome::PassOn));
}

/// A DNS query for `a.example` (id 0x1234) and a response padded to `len` bytes.
fn dns_message(response: bool, len: usize) -> Vec<u8> {
    let mut m = vec![
        0x12,
        0x34,
        if response { 0x81 } else { 0x01 },
        0x00,
        0,
        1,
        0,
        0,
        0,
        0,
        0,
        0,
    ];
    m.extend_from_slice(b"\x01a\x07example\x00\x00\x01\x00\x01");
    if response {
        // One TXT answer of the padding, pointer to the question name.
        let rdata_len = len - m.len() - 12;
        m[7] = 1;
        m.extend_from_slice(&[0xc0, 0x0c, 0x00, 0x10, 0x00, 0x01, 0, 0, 0, 60]);
        m.extend_from_slice(&(rdata_len as u16).to_be_bytes());
        let mut left = rdata_len;
        while left > 0 {
            let chunk = (left - 1).min(255);
            m.push(chunk as u8);
            m.extend(std::iter::repeat_n(b'X', chunk));
            left -= chunk + 1;
        }
    }
    m
}

#[test]
fn pipeline_pairs_a_fragmented_dns_response_at_its_last_fragment() {
    let query = udp(&dns_message(false, 0));
    let mut response = dns_message(true, 3000);
    assert_eq!(response.len(), 3000);
    let mut response_datagram = vec![0x00, 0x35, 0x04, 0xd2];
    let len = (8 + response.len()) as u16;
    response_datagram.extend_from_slice(&[(len >> 8) as u8, len as u8, 0, 0]);
    response_datagram.append(&mut response);
    let mut response_frames = split_ipv4(77, &response_datagram, &[1480, 2960]);
    for f in &mut response_frames {
        // From the server 10.0.0.2 back to 10.0.0.1.
        f[12..20].copy_from_slice(&[10, 0, 0, 2, 10, 0, 0, 1]);
    }
    let path = common::scratch("decode_defrag", "fragmented_dns.pcap");
    let mut writer = PcapWriter::new(
        std::fs::File::create(&path).unwrap(),
        LinkType::ETHERNET,
        65535,
        true,
    )
    .unwrap();
    let t0 = 1_700_000_000 * SEC;
    let query_frame = ethernet(0x0800, &ipv4_fragment(76, 0, false, &query));
    writer.write_packet(t0, &query_frame, 0).unwrap();
    // Out of order: the last fragment arrives second, the middle one completes the datagram.
    for (i, at) in [(0, 1_000), (2, 2_000), (1, 3_000)] {
        let frame = ethernet(0x0800, &response_frames[i]);
        writer.write_packet(t0 + at * 1_000, &frame, 0).unwrap();
    }
    writer.finish().unwrap();

    // From 3 workers on, planned as on that many cores: the flow table runs on flow threads,
    // and the datagram is put back together before them.
    for threads in [1, 2, 3, 6] {
        let options = PassOptions {
            flows: true,
            transactions: true,
            threads,
            cores: (threads >= 3).then_some(threads),
            ..Default::default()
        };
        let mut dns = Vec::new();
        let mut flows = Vec::new();
        let report = analyze_file(&path, &options, &mut |r| match r {
            Record::Dns(t) => dns.push(t),
            Record::Flow(f) => flows.push(f),
            _ => {}
        })
        .unwrap();
        // Counting stays per frame.
        assert_eq!((report.counts.packets, report.counts.udp), (4, 2));
        assert_eq!(dns.len(), 1, "{dns:?}");
        let t = &dns[0];
        assert_eq!(
            (t.id, t.answers, t.query_name.as_str()),
            (0x1234, 1, "a.example")
        );
        assert_eq!(
            t.latency_ns(),
            Some(3_000_000),
            "dated by the completing fragment"
        );
        assert!(t.flags.is_empty(), "{:?}", t.flags);
        assert_eq!(
            flows.len(),
            1,
            "one UDP flow, no port-0 flow of fragments: {flows:?}"
        );
    }
}
