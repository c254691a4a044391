//! HPACK's static Huffman code (RFC 7541 appendix B), decoded a nibble at a time.
//!
//! The 257 codes form a binary tree with 256 inner nodes. Each inner node is a decoder
//! state; for each state and each 4-bit input the table built at compile time
//! ([`TRANSITIONS`]) gives the next state and the symbol completed on the way, if any. The
//! shortest code is 5 bits, so one nibble completes at most one symbol. The decoder reads
//! every input byte with two table look-ups, never a bit-by-bit search over the codes.

/// (code, length in bits) for symbols 0..=255 and EOS (256), from RFC 7541 appendix B.
const CODES: [(u32, u8); 257] = [
    (0x1ff8, 13),
    (0x7fffd8, 23),
    (0xfffffe2, 28),
    (0xfffffe3, 28),
    (0xfffffe4, 28),
    (0xfffffe5, 28),
    (0xfffffe6, 28),
    (0xfffffe7, 28),
    (0xfffffe8, 28),
    (0xffffea, 24),
    (0x3ffffffc, 30),
    (0xfffffe9, 28),
    (0xfffffea, 28),
    (0x3ffffffd, 30),
    (0xfffffeb, 28),
    (0xfffffec, 28),
    (0xfffffed, 28),
    (0xfffffee, 28),
    (0xfffffef, 28),
    (0xffffff0, 28),
    (0xffffff1, 28),
    (0xffffff2, 28),
    (0x3ffffffe, 30),
    (0xffffff3, 28),
    (0xffffff4, 28),
    (0xffffff5, 28),
    (0xffffff6, 28),
    (0xffffff7, 28),
    (0xffffff8, 28),
    (0xffffff9, 28),
    (0xffffffa, 28),
    (0xffffffb, 28),
    (0x14, 6),
    (0x3f8, 10),
    (0x3f9, 10),
    (0xffa, 12),
    (0x1ff9, 13),
    (0x15, 6),
    (0xf8, 8),
    (0x7fa, 11),
    (0x3fa, 10),
    (0x3fb, 10),
    (0xf9, 8),
    (0x7fb, 11),
    (0xfa, 8),
    (0x16, 6),
    (0x17, 6),
    (0x18, 6),
    (0x0, 5),
    (0x1, 5),
    (0x2, 5),
    (0x19, 6),
    (0x1a, 6),
    (0x1b, 6),
    (0x1c, 6),
    (0x1d, 6),
    (0x1e, 6),
    (0x1f, 6),
    (0x5c, 7),
    (0xfb, 8),
    (0x7ffc, 15),
    (0x20, 6),
    (0xffb, 12),
    (0x3fc, 10),
    (0x1ffa, 13),
    (0x21, 6),
    (0x5d, 7),
    (0x5e, 7),
    (0x5f, 7),
    (0x60, 7),
    (0x61, 7),
    (0x62, 7),
    (0x63, 7),
    (0x64, 7),
    (0x65, 7),
    (0x66, 7),
    (0x67, 7),
    (0x68, 7),
    (0x69, 7),
    (0x6a, 7),
    (0x6b, 7),
    (0x6c, 7),
    (0x6d, 7),
    (0x6e, 7),
    (0x6f, 7),
    (0x70, 7),
    (0x71, 7),
    (0x72, 7),
    (0xfc, 8),
    (0x73, 7),
    (0xfd, 8),
    (0x1ffb, 13),
    (0x7fff0, 19),
    (0x1ffc, 13),
    (0x3ffc, 14),
    (0x22, 6),
    (0x7ffd, 15),
    (0x3, 5),
    (0x23, 6),
    (0x4, 5),
    (0x24, 6),
    (0x5, 5),
    (0x25, 6),
    (0x26, 6),
    (0x27, 6),
    (0x6, 5),
    (0x74, 7),
    (0x75, 7),
    (0x28, 6),
    (0x29, 6),
    (0x2a, 6),
    (0x7, 5),
    (0x2b, 6),
    (0x76, 7),
    (0x2c, 6),
    (0x8, 5),
    (0x9, 5),
    (0x2d, 6),
    (0x77, 7),
    (0x78, 7),
    (0x79, 7),
    (0x7a, 7),
    (0x7b, 7),
    (0x7ffe, 15),
    (0x7fc, 11),
    (0x3ffd, 14),
    (0x1ffd, 13),
    (0xffffffc, 28),
    (0xfffe6, 20),
    (0x3fffd2, 22),
    (0xfffe7, 20),
    (0xfffe8, 20),
    (0x3fffd3, 22),
    (0x3fffd4, 22),
    (0x3fffd5, 22),
    (0x7fffd9, 23),
    (0x3fffd6, 22),
    (0x7fffda, 23),
    (0x7fffdb, 23),
    (0x7fffdc, 23),
    (0x7fffdd, 23),
    (0x7fffde, 23),
    (0xffffeb, 24),
    (0x7fffdf, 23),
    (0xffffec, 24),
    (0xffffed, 24),
    (0x3fffd7, 22),
    (0x7fffe0, 23),
    (0xffffee, 24),
    (0x7fffe1, 23),
    (0x7fffe2, 23),
    (0x7fffe3, 23),
    (0x7fffe4, 23),
    (0x1fffdc, 21),
    (0x3fffd8, 22),
    (0x7fffe5, 23),
    (0x3fffd9, 22),
    (0x7fffe6, 23),
    (0x7fffe7, 23),
    (0xffffef, 24),
    (0x3fffda, 22),
    (0x1fffdd, 21),
    (0xfffe9, 20),
    (0x3fffdb, 22),
    (0x3fffdc, 22),
    (0x7fffe8, 23),
    (0x7fffe9, 23),
    (0x1fffde, 21),
    (0x7fffea, 23),
    (0x3fffdd, 22),
    (0x3fffde, 22),
    (0xfffff0, 24),
    (0x1fffdf, 21),
    (0x3fffdf, 22),
    (0x7fffeb, 23),
    (0x7fffec, 23),
    (0x1fffe0, 21),
    (0x1fffe1, 21),
    (0x3fffe0, 22),
    (0x1fffe2, 21),
    (0x7fffed, 23),
    (0x3fffe1, 22),
    (0x7fffee, 23),
    (0x7fffef, 23),
    (0xfffea, 20),
    (0x3fffe2, 22),
    (0x3fffe3, 22),
    (0x3fffe4, 22),
    (0x7ffff0, 23),
    (0x3fffe5, 22),
    (0x3fffe6, 22),
    (0x7ffff1, 23),
    (0x3ffffe0, 26),
    (0x3ffffe1, 26),
    (0xfffeb, 20),
    (0x7fff1, 19),
    (0x3fffe7, 22),
    (0x7ffff2, 23),
    (0x3fffe8, 22),
    (0x1ffffec, 25),
    (0x3ffffe2, 26),
    (0x3ffffe3, 26),
    (0x3ffffe4, 26),
    (0x7ffffde, 27),
    (0x7ffffdf, 27),
    (0x3ffffe5, 26),
    (0xfffff1, 24),
    (0x1ffffed, 25),
    (0x7fff2, 19),
    (0x1fffe3, 21),
    (0x3ffffe6, 26),
    (0x7ffffe0, 27),
    (0x7ffffe1, 27),
    (0x3ffffe7, 26),
    (0x7ffffe2, 27),
    (0xfffff2, 24),
    (0x1fffe4, 21),
    (0x1fffe5, 21),
    (0x3ffffe8, 26),
    (0x3ffffe9, 26),
    (0xffffffd, 28),
    (0x7ffffe3, 27),
    (0x7ffffe4, 27),
    (0x7ffffe5, 27),
    (0xfffec, 20),
    (0xfffff3, 24),
    (0xfffed, 20),
    (0x1fffe6, 21),
    (0x3fffe9, 22),
    (0x1fffe7, 21),
    (0x1fffe8, 21),
    (0x7ffff3, 23),
    (0x3fffea, 22),
    (0x3fffeb, 22),
    (0x1ffffee, 25),
    (0x1ffffef, 25),
    (0xfffff4, 24),
    (0xfffff5, 24),
    (0x3ffffea, 26),
    (0x7ffff4, 23),
    (0x3ffffeb, 26),
    (0x7ffffe6, 27),
    (0x3ffffec, 26),
    (0x3ffffed, 26),
    (0x7ffffe7, 27),
    (0x7ffffe8, 27),
    (0x7ffffe9, 27),
    (0x7ffffea, 27),
    (0x7ffffeb, 27),
    (0xffffffe, 28),
    (0x7ffffec, 27),
    (0x7ffffed, 27),
    (0x7ffffee, 27),
    (0x7ffffef, 27),
    (0x7fffff0, 27),
    (0x3ffffee, 26),
    (0x3fffffff, 30),
];

/// EOS in the input is an error (RFC 7541 section 5.2).
const EOS: u16 = 256;

/// A string literal that is not valid Huffman code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HuffmanError {
    /// The EOS symbol appeared in the string.
    Eos,
    /// The string ended inside a code: padding longer than 7 bits or not all ones.
    BadPadding,
}

/// One step of the decoder: where to go after a nibble, and what happened on the way.
#[derive(Clone, Copy)]
struct Transition {
    next: u8,
    symbol: u8,
    flags: u8,
}

/// `symbol` is valid.
const EMITS: u8 = 1;
/// The nibble walked into EOS: the input is invalid.
const FAILS: u8 = 2;
/// Ending the input in `next` is allowed: at a symbol boundary, or inside a prefix of EOS
/// (all ones) no longer than 7 bits.
const MAY_END: u8 = 4;

/// A node in the code tree: inner nodes are numbered 0..256, leaves carry their symbol.
#[derive(Clone, Copy)]
enum Node {
    Inner(u16),
    Leaf(u16),
    Empty,
}

/// The code tree: `children[node] = [on 0, on 1]`, node 0 the root.
const fn build_tree() -> [[Node; 2]; 256] {
    let mut children = [[Node::Empty; 2]; 256];
    let mut inner_count: u16 = 1;
    let mut symbol = 0;
    while symbol < CODES.len() {
        let (code, length) = CODES[symbol];
        let mut node = 0usize;
        let mut bit = length;
        while bit > 0 {
            bit -= 1;
            let side = ((code >> bit) & 1) as usize;
            if bit == 0 {
                children[node][side] = Node::Leaf(symbol as u16);
            } else {
                match children[node][side] {
                    Node::Inner(next) => node = next as usize,
                    _ => {
                        children[node][side] = Node::Inner(inner_count);
                        node = inner_count as usize;
                        inner_count += 1;
                    }
                }
            }
        }
        symbol += 1;
    }
    children
}

/// For each inner node: its depth and whether the path to it is all ones (a prefix of EOS).
const fn node_padding_info(tree: &[[Node; 2]; 256]) -> [(u8, bool); 256] {
    let mut info = [(0u8, true); 256];
    // Nodes are numbered in creation order, so a parent always precedes its children.
    let mut node = 0;
    while node < 256 {
        let mut side = 0;
        while side < 2 {
            if let Node::Inner(child) = tree[node][side] {
                info[child as usize] = (info[node].0 + 1, info[node].1 && side == 1);
            }
            side += 1;
        }
        node += 1;
    }
    info
}

const fn build_transitions() -> [[Transition; 16]; 256] {
    let tree = build_tree();
    let padding = node_padding_info(&tree);
    let mut table = [[Transition {
        next: 0,
        symbol: 0,
        flags: 0,
    }; 16]; 256];
    let mut state = 0;
    while state < 256 {
        let mut nibble = 0;
        while nibble < 16 {
            let mut node = state;
            let mut symbol = 0u8;
            let mut flags = 0u8;
            let mut bit = 4;
            while bit > 0 {
                bit -= 1;
                match tree[node][(nibble >> bit) & 1] {
                    Node::Inner(next) => node = next as usize,
                    Node::Leaf(EOS) => {
                        flags |= FAILS;
                        node = 0;
                    }
                    Node::Leaf(s) => {
                        symbol = s as u8;
                        flags |= EMITS;
                        node = 0;
                    }
                    Node::Empty => {
                        // The code is complete (every inner node has two children).
                        flags |= FAILS;
                        node = 0;
                    }
                }
            }
            let (depth, all_ones) = padding[node];
            if node == 0 || (all_ones && depth <= 7) {
                flags |= MAY_END;
            }
            table[state][nibble] = Transition {
                next: node as u8,
                symbol,
                flags,
            };
            nibble += 1;
        }
        state += 1;
    }
    table
}

static TRANSITIONS: [[Transition; 16]; 256] = build_transitions();

/// One input byte (two nibbles) from one state: up to two symbols, since the shortest code
/// is 5 bits. Built from [`TRANSITIONS`] so both tables say the same.
#[derive(Clone, Copy)]
struct ByteStep {
    next: u8,
    /// Symbols completed (0..=2) in the low bits, then `BYTE_FAILS` and `BYTE_MAY_END`.
    flags: u8,
    symbols: [u8; 2],
}

const BYTE_COUNT: u8 = 3;
const BYTE_FAILS: u8 = 4;
const BYTE_MAY_END: u8 = 8;

/// `BYTE_STEPS[state * 256 + byte]`: one look-up per input byte instead of two (256 KiB,
/// built on first use; a const table that large would slow every build).
static BYTE_STEPS: std::sync::LazyLock<Box<[ByteStep]>> = std::sync::LazyLock::new(|| {
    let mut steps = Vec::with_capacity(256 * 256);
    for from in &TRANSITIONS {
        for byte in 0..256usize {
            let high = from[byte >> 4];
            let low = TRANSITIONS[high.next as usize][byte & 0x0f];
            let mut step = ByteStep {
                next: low.next,
                flags: 0,
                symbols: [0; 2],
            };
            for nibble in [high, low] {
                if nibble.flags & FAILS != 0 {
                    step.flags |= BYTE_FAILS;
                } else if nibble.flags & EMITS != 0 {
                    step.symbols[(step.flags & BYTE_COUNT) as usize] = nibble.symbol;
                    step.flags += 1;
                }
            }
            if low.flags & MAY_END != 0 {
                step.flags |= BYTE_MAY_END;
            }
            steps.push(step);
        }
    }
    steps.into_boxed_slice()
});

/// Walks `encoded` a byte at a time, calling `emit` with each step's completed symbols.
#[inline(always)]
fn walk(encoded: &[u8], mut emit: impl FnMut(&ByteStep)) -> Result<(), HuffmanError> {
    let steps = &**BYTE_STEPS;
    let mut state = 0usize;
    let mut flags = BYTE_MAY_END;
    for &byte in encoded {
        let step = &steps[state * 256 + byte as usize];
        flags = step.flags;
        if flags & BYTE_FAILS != 0 {
            return Err(HuffmanError::Eos);
        }
        emit(step);
        state = step.next as usize;
    }
    if flags & BYTE_MAY_END != 0 {
        Ok(())
    } else {
        Err(HuffmanError::BadPadding)
    }
}

/// Appends the decoded form of `encoded` to `out`.
pub fn decode(encoded: &[u8], out: &mut Vec<u8>) -> Result<(), HuffmanError> {
    // Decoded strings are at most 8/5 of the encoded length.
    out.reserve(encoded.len() + encoded.len() / 2);
    walk(encoded, |step| match step.flags & BYTE_COUNT {
        0 => {}
        1 => out.push(step.symbols[0]),
        _ => out.extend_from_slice(&step.symbols),
    })
}

/// The length [`decode`] would produce, with the same errors, without writing it: for
/// values nobody reads (HPACK counts decoded octets against list limits).
pub fn decoded_len(encoded: &[u8]) -> Result<usize, HuffmanError> {
    let mut len = 0;
    walk(encoded, |step| len += (step.flags & BYTE_COUNT) as usize)?;
    Ok(len)
}

/// The nibble-at-a-time decoder the byte table is built from; the tests' second opinion.
#[cfg(test)]
fn decode_by_nibbles(encoded: &[u8], out: &mut Vec<u8>) -> Result<(), HuffmanError> {
    let mut state = 0u8;
    let mut flags = MAY_END;
    for &byte in encoded {
        for nibble in [byte >> 4, byte & 0x0f] {
            let step = TRANSITIONS[state as usize][nibble as usize];
            flags = step.flags;
            if flags & (EMITS | FAILS) != 0 {
                if flags & FAILS != 0 {
                    return Err(HuffmanError::Eos);
                }
                out.push(step.symbol);
            }
            state = step.next;
        }
    }
    if flags & MAY_END != 0 {
        Ok(())
    } else {
        Err(HuffmanError::BadPadding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes with the code table, bit by bit: the reference the fast decoder must match.
    fn encode(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let (mut acc, mut bits) = (0u64, 0u32);
        for &b in input {
            let (code, len) = CODES[b as usize];
            acc = (acc << len) | code as u64;
            bits += len as u32;
            while bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
            }
        }
        if bits > 0 {
            let pad = 8 - bits;
            out.push(((acc << pad) | ((1 << pad) - 1)) as u8);
        }
        out
    }

    #[test]
    fn every_byte_round_trips() {
        let all: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        let mut out = Vec::new();
        decode(&encode(&all), &mut out).unwrap();
        assert_eq!(out, all);
        for b in 0..=255u8 {
            for len in 1..=9 {
                let input = vec![b; len];
                out.clear();
                decode(&encode(&input), &mut out).unwrap();
                assert_eq!(out, input);
            }
        }
    }

    #[test]
    fn rfc_examples() {
        // RFC 7541 C.4.1: "www.example.com"
        let mut out = Vec::new();
        decode(
            &[
                0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
            ],
            &mut out,
        )
        .unwrap();
        assert_eq!(out, b"www.example.com");
    }

    /// The byte table, the nibble table and the length walk agree on every input of up to
    /// two bytes and on every three-byte input with a varied first byte: same output, same
    /// error, same length.
    #[test]
    fn byte_table_matches_nibble_table() {
        let check = |input: &[u8]| {
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            let fast_result = decode(input, &mut fast);
            let slow_result = decode_by_nibbles(input, &mut slow);
            assert_eq!(fast_result, slow_result, "{input:02x?}");
            if slow_result.is_ok() {
                assert_eq!(fast, slow, "{input:02x?}");
            }
            assert_eq!(
                decoded_len(input),
                slow_result.map(|()| slow.len()),
                "{input:02x?}"
            );
        };
        for a in 0..=255u8 {
            check(&[a]);
            for b in 0..=255u8 {
                check(&[a, b]);
                check(&[a.wrapping_mul(37), b, a ^ b]);
            }
        }
        let all: Vec<u8> = (0..=255u8).collect();
        check(&encode(&all));
    }

    #[test]
    fn padding_rules() {
        let mut out = Vec::new();
        // Empty string is fine.
        assert_eq!(decode(&[], &mut out), Ok(()));
        // 8 bits of ones: padding longer than 7 bits.
        assert_eq!(decode(&[0xff], &mut out), Err(HuffmanError::BadPadding));
        // 'a' (00011) followed by padding 000: padding must be ones.
        assert_eq!(
            decode(&[0b0001_1000], &mut out),
            Err(HuffmanError::BadPadding)
        );
        // 'a' + 111 padding is correct.
        out.clear();
        assert_eq!(decode(&[0b0001_1111], &mut out), Ok(()));
        assert_eq!(out, b"a");
        // EOS (30 ones) spelled out in the input.
        assert_eq!(
            decode(&[0xff, 0xff, 0xff, 0xfc], &mut out),
            Err(HuffmanError::Eos)
        );
    }
}
