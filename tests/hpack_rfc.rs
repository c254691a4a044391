//! HPACK against RFC 7541 appendix C: every example, with the decoded header list and the
//! dynamic table (entries, sizes) after each block; plus the unknown-state rules for
//! captures that start mid-connection.

use tracetail::analyzers::http2::hpack::{decode_integer, BlockInfo, Decoder, HpackError};

fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| b.is_ascii_hexdigit()).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

type Fields = Vec<(String, String)>;

fn decode(d: &mut Decoder, block: &[u8]) -> (Fields, BlockInfo) {
    let mut fields = Vec::new();
    let info = d
        .decode(block, usize::MAX, |n, v| {
            fields.push((
                String::from_utf8(n.to_vec()).unwrap(),
                String::from_utf8(v.to_vec()).unwrap(),
            ))
        })
        .unwrap();
    (fields, info)
}

fn pairs(list: &[(&str, &str)]) -> Fields {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// Decodes `block` and checks the list, the table (newest first, with RFC entry sizes) and
/// the table size, as the RFC prints them after each example.
fn check(d: &mut Decoder, block: &str, list: &[(&str, &str)], table: &[(usize, &str, &str)]) {
    let (fields, info) = decode(d, &hex(block));
    assert_eq!(fields, pairs(list));
    assert_eq!(info, BlockInfo::default());
    let got: Vec<(usize, String, String)> = d
        .known_entries()
        .map(|(n, v)| {
            (
                n.len() + v.len() + 32,
                String::from_utf8(n.to_vec()).unwrap(),
                String::from_utf8(v.to_vec()).unwrap(),
            )
        })
        .collect();
    let want: Vec<(usize, String, String)> = table
        .iter()
        .map(|(s, n, v)| (*s, n.to_string(), v.to_string()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(d.known_size(), table.iter().map(|e| e.0).sum::<usize>());
    assert!(d.is_fully_known());
}

#[test]
fn c1_integers() {
    // C.1.1: 10 with a 5-bit prefix (the three high bits are not part of the integer).
    let mut pos = 0;
    assert_eq!(decode_integer(&[0b1110_1010], &mut pos, 5), Ok(10));
    assert_eq!(pos, 1);
    // C.1.2: 1337 with a 5-bit prefix.
    let mut pos = 0;
    assert_eq!(decode_integer(&[0x1f, 0x9a, 0x0a], &mut pos, 5), Ok(1337));
    assert_eq!(pos, 3);
    // C.1.3: 42 on an 8-bit prefix.
    let mut pos = 0;
    assert_eq!(decode_integer(&[42], &mut pos, 8), Ok(42));
    assert_eq!(pos, 1);
    // Limits: u32::MAX fits, one more does not; endless continuation bytes are refused;
    // a value cut short is truncated.
    let mut pos = 0;
    let max = [0x1f, 0xe0, 0xff, 0xff, 0xff, 0x0f];
    assert_eq!(decode_integer(&max, &mut pos, 5), Ok(u32::MAX));
    let mut pos = 0;
    let over = [0x1f, 0xe1, 0xff, 0xff, 0xff, 0x0f];
    assert_eq!(
        decode_integer(&over, &mut pos, 5),
        Err(HpackError::IntegerOverflow)
    );
    let mut pos = 0;
    let long = [0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
    assert_eq!(
        decode_integer(&long, &mut pos, 5),
        Err(HpackError::IntegerOverflow)
    );
    let mut pos = 0;
    assert_eq!(
        decode_integer(&[0x1f, 0x9a], &mut pos, 5),
        Err(HpackError::Truncated)
    );
    assert_eq!(pos, 0);
}

#[test]
fn c2_field_representations() {
    // C.2.1 Literal with indexing.
    let mut d = Decoder::new(4096);
    check(
        &mut d,
        "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
        &[("custom-key", "custom-header")],
        &[(55, "custom-key", "custom-header")],
    );
    // C.2.2 Literal without indexing.
    let mut d = Decoder::new(4096);
    check(
        &mut d,
        "040c 2f73 616d 706c 652f 7061 7468",
        &[(":path", "/sample/path")],
        &[],
    );
    // C.2.3 Literal never indexed.
    let mut d = Decoder::new(4096);
    check(
        &mut d,
        "1008 7061 7373 776f 7264 0673 6563 7265 74",
        &[("password", "secret")],
        &[],
    );
    // C.2.4 Indexed field.
    let mut d = Decoder::new(4096);
    check(&mut d, "82", &[(":method", "GET")], &[]);
}

const REQ1: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "http"),
    (":path", "/"),
    (":authority", "www.example.com"),
];
const REQ2: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "http"),
    (":path", "/"),
    (":authority", "www.example.com"),
    ("cache-control", "no-cache"),
];
const REQ3: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "https"),
    (":path", "/index.html"),
    (":authority", "www.example.com"),
    ("custom-key", "custom-value"),
];
const REQ_TABLE1: &[(usize, &str, &str)] = &[(57, ":authority", "www.example.com")];
const REQ_TABLE2: &[(usize, &str, &str)] = &[
    (53, "cache-control", "no-cache"),
    (57, ":authority", "www.example.com"),
];
const REQ_TABLE3: &[(usize, &str, &str)] = &[
    (54, "custom-key", "custom-value"),
    (53, "cache-control", "no-cache"),
    (57, ":authority", "www.example.com"),
];

#[test]
fn c3_requests_without_huffman() {
    let mut d = Decoder::new(4096);
    check(
        &mut d,
        "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        REQ1,
        REQ_TABLE1,
    );
    check(
        &mut d,
        "8286 84be 5808 6e6f 2d63 6163 6865",
        REQ2,
        REQ_TABLE2,
    );
    check(
        &mut d,
        "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
        REQ3,
        REQ_TABLE3,
    );
}

#[test]
fn c4_requests_with_huffman() {
    let mut d = Decoder::new(4096);
    check(
        &mut d,
        "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
        REQ1,
        REQ_TABLE1,
    );
    check(&mut d, "8286 84be 5886 a8eb 1064 9cbf", REQ2, REQ_TABLE2);
    check(
        &mut d,
        "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
        REQ3,
        REQ_TABLE3,
    );
}

const DATE1: &str = "Mon, 21 Oct 2013 20:13:21 GMT";
const DATE2: &str = "Mon, 21 Oct 2013 20:13:22 GMT";
const LOCATION: &str = "https://www.example.com";
const COOKIE: &str = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";

fn responses(blocks: [&str; 3]) {
    // SETTINGS_HEADER_TABLE_SIZE = 256 in these examples, so entries get evicted.
    let mut d = Decoder::new(256);
    check(
        &mut d,
        blocks[0],
        &[
            (":status", "302"),
            ("cache-control", "private"),
            ("date", DATE1),
            ("location", LOCATION),
        ],
        &[
            (63, "location", LOCATION),
            (65, "date", DATE1),
            (52, "cache-control", "private"),
            (42, ":status", "302"),
        ],
    );
    check(
        &mut d,
        blocks[1],
        &[
            (":status", "307"),
            ("cache-control", "private"),
            ("date", DATE1),
            ("location", LOCATION),
        ],
        &[
            (42, ":status", "307"),
            (63, "location", LOCATION),
            (65, "date", DATE1),
            (52, "cache-control", "private"),
        ],
    );
    check(
        &mut d,
        blocks[2],
        &[
            (":status", "200"),
            ("cache-control", "private"),
            ("date", DATE2),
            ("location", LOCATION),
            ("content-encoding", "gzip"),
            ("set-cookie", COOKIE),
        ],
        &[
            (98, "set-cookie", COOKIE),
            (52, "content-encoding", "gzip"),
            (65, "date", DATE2),
        ],
    );
}

#[test]
fn c5_responses_without_huffman() {
    responses([
        "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
         2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
         6c65 2e63 6f6d",
        "4803 3330 37c1 c0bf",
        "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
         54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
         5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
         3d31",
    ]);
}

#[test]
fn c6_responses_with_huffman() {
    responses([
        "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
         2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
        "4883 640e ffc1 c0bf",
        "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
         77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
         9587 3160 65c0 03ed 4ee5 b106 3d50 07",
    ]);
}
