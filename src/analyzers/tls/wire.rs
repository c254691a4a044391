//! Zero-copy views of TLS wire structures (RFC 8446 §4, RFC 5246 §7): record headers,
//! handshake headers, ClientHello and ServerHello with the extensions tracetail reports.
//! Every accessor bounds-checks: a short or lying length gives `None`, never a panic.

/// Record content types.
pub const CHANGE_CIPHER_SPEC: u8 = 20;
pub const ALERT: u8 = 21;
pub const HANDSHAKE: u8 = 22;
pub const APPLICATION_DATA: u8 = 23;
pub const HEARTBEAT: u8 = 24;

/// Handshake message types.
pub const CLIENT_HELLO: u8 = 1;
pub const SERVER_HELLO: u8 = 2;
pub const NEW_SESSION_TICKET: u8 = 4;
pub const ENCRYPTED_EXTENSIONS: u8 = 8;
pub const FINISHED: u8 = 20;
pub const KEY_UPDATE: u8 = 24;

/// Record header length.
pub const RECORD_HEADER_LEN: usize = 5;
/// Longest record body accepted: 2^14 plaintext + 2048 bytes of TLS 1.2 ciphertext expansion.
pub const MAX_RECORD_BODY: usize = (1 << 14) + 2048;

/// ServerHello.random of a HelloRetryRequest: SHA-256("HelloRetryRequest") (RFC 8446 §4.1.3).
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// A big-endian reader over a byte slice.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.bytes.len() < n {
            return None;
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Some(head)
    }
    pub fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    pub fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    pub fn u24(&mut self) -> Option<usize> {
        self.take(3)
            .map(|b| (b[0] as usize) << 16 | (b[1] as usize) << 8 | b[2] as usize)
    }
    /// A vector with a one-byte length prefix.
    pub fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()? as usize;
        self.take(n)
    }
    /// A vector with a two-byte length prefix.
    pub fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()? as usize;
        self.take(n)
    }
}

/// The 5-byte record header: content type, legacy version, body length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    pub content_type: u8,
    pub version: u16,
    pub length: usize,
}

impl RecordHeader {
    /// Parses and sanity-checks a header (known content type, major version 3, length in
    /// bounds); `None` when `bytes` is shorter than a header or it is not a TLS record.
    pub fn parse(bytes: &[u8]) -> Option<Result<RecordHeader, ()>> {
        let h = bytes.get(..RECORD_HEADER_LEN)?;
        let header = RecordHeader {
            content_type: h[0],
            version: u16::from_be_bytes([h[1], h[2]]),
            length: u16::from_be_bytes([h[3], h[4]]) as usize,
        };
        let plausible = (CHANGE_CIPHER_SPEC..=HEARTBEAT).contains(&header.content_type)
            && h[1] == 3
            && header.length <= MAX_RECORD_BODY;
        Some(if plausible { Ok(header) } else { Err(()) })
    }
}

/// Extensions both hellos can carry, as far as tracetail reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HelloExtensions<'a> {
    pub server_name: Option<&'a [u8]>,
    /// ALPN protocol names (ServerHello / EncryptedExtensions: the one chosen).
    pub alpn: Vec<&'a [u8]>,
    /// ClientHello: the versions offered; ServerHello: the one selected.
    pub supported_versions: Vec<u16>,
    /// ClientHello: a non-empty session ticket (a resumption attempt); ServerHello: present.
    pub session_ticket: Option<&'a [u8]>,
    /// ClientHello: PSK identities offered; ServerHello: the selected identity.
    pub pre_shared_key: bool,
    pub encrypt_then_mac: bool,
    pub extended_master_secret: bool,
}

const EXT_SERVER_NAME: u16 = 0;
const EXT_ALPN: u16 = 16;
const EXT_ENCRYPT_THEN_MAC: u16 = 22;
const EXT_EXTENDED_MASTER_SECRET: u16 = 23;
const EXT_SESSION_TICKET: u16 = 35;
const EXT_PRE_SHARED_KEY: u16 = 41;
const EXT_SUPPORTED_VERSIONS: u16 = 43;

/// Parses an extensions block (without its length prefix). `from_client` selects the
/// ClientHello layout of `supported_versions`.
pub fn parse_extensions(block: &[u8], from_client: bool) -> Option<HelloExtensions<'_>> {
    let mut ext = HelloExtensions::default();
    let mut r = Reader::new(block);
    while !r.is_empty() {
        let kind = r.u16()?;
        let data = r.vec16()?;
        let mut d = Reader::new(data);
        match kind {
            EXT_SERVER_NAME if from_client => {
                let mut list = Reader::new(d.vec16()?);
                while !list.is_empty() {
                    let name_type = list.u8()?;
                    let name = list.vec16()?;
                    if name_type == 0 && ext.server_name.is_none() {
                        ext.server_name = Some(name);
                    }
                }
            }
            EXT_ALPN => {
                let mut list = Reader::new(d.vec16()?);
                while !list.is_empty() {
                    ext.alpn.push(list.vec8()?);
                }
            }
            EXT_SUPPORTED_VERSIONS => {
                if from_client {
                    let mut list = Reader::new(d.vec8()?);
                    while !list.is_empty() {
                        ext.supported_versions.push(list.u16()?);
                    }
                } else {
                    ext.supported_versions.push(d.u16()?);
                }
            }
            EXT_SESSION_TICKET => ext.session_ticket = Some(data),
            EXT_PRE_SHARED_KEY => ext.pre_shared_key = true,
            EXT_ENCRYPT_THEN_MAC => ext.encrypt_then_mac = true,
            EXT_EXTENDED_MASTER_SECRET => ext.extended_master_secret = true,
            _ => {}
        }
    }
    Some(ext)
}

/// A ClientHello body (after the 4-byte handshake header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello<'a> {
    pub legacy_version: u16,
    pub random: &'a [u8],
    pub session_id: &'a [u8],
    pub extensions: HelloExtensions<'a>,
}

impl<'a> ClientHello<'a> {
    pub fn parse(body: &'a [u8]) -> Option<Self> {
        let mut r = Reader::new(body);
        let legacy_version = r.u16()?;
        let random = r.take(32)?;
        let session_id = r.vec8()?;
        let _cipher_suites = r.vec16()?;
        let _compression = r.vec8()?;
        // Extensions are optional before TLS 1.3.
        let extensions = if r.is_empty() {
            HelloExtensions::default()
        } else {
            parse_extensions(r.vec16()?, true)?
        };
        Some(ClientHello {
            legacy_version,
            random,
            session_id,
            extensions,
        })
    }
}

/// A ServerHello body (also a HelloRetryRequest, told by its random).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello<'a> {
    pub legacy_version: u16,
    pub random: &'a [u8],
    pub session_id: &'a [u8],
    pub cipher_suite: u16,
    pub extensions: HelloExtensions<'a>,
}

impl<'a> ServerHello<'a> {
    pub fn parse(body: &'a [u8]) -> Option<Self> {
        let mut r = Reader::new(body);
        let legacy_version = r.u16()?;
        let random = r.take(32)?;
        let session_id = r.vec8()?;
        let cipher_suite = r.u16()?;
        let _compression = r.u8()?;
        let extensions = if r.is_empty() {
            HelloExtensions::default()
        } else {
            parse_extensions(r.vec16()?, false)?
        };
        Some(ServerHello {
            legacy_version,
            random,
            session_id,
            cipher_suite,
            extensions,
        })
    }

    pub fn is_hello_retry_request(&self) -> bool {
        self.random == HELLO_RETRY_RANDOM
    }

    /// The negotiated version: `supported_versions` if present, else the legacy field.
    pub fn version(&self) -> u16 {
        self.extensions
            .supported_versions
            .first()
            .copied()
            .unwrap_or(self.legacy_version)
    }
}

/// An SSLv2-format ClientHello (RFC 6101 appendix E.2), which old clients send first:
/// the version it offers, if `bytes` starts with one.
pub fn sslv2_client_hello(bytes: &[u8]) -> Option<(u16, usize)> {
    let b = bytes.get(..5)?;
    if b[0] & 0x80 == 0 || b[2] != CLIENT_HELLO || b[3] > 3 {
        return None;
    }
    let len = ((b[0] & 0x7f) as usize) << 8 | b[1] as usize;
    Some((u16::from_be_bytes([b[3], b[4]]), 2 + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_header_bounds() {
        assert_eq!(RecordHeader::parse(&[22, 3, 1]), None);
        assert_eq!(
            RecordHeader::parse(&[22, 3, 1, 0, 5]),
            Some(Ok(RecordHeader {
                content_type: 22,
                version: 0x0301,
                length: 5
            }))
        );
        assert_eq!(RecordHeader::parse(b"GET /"), Some(Err(())));
        assert_eq!(RecordHeader::parse(&[23, 3, 3, 0xff, 0xff]), Some(Err(())));
    }

    #[test]
    fn every_truncation_of_a_client_hello_is_refused_without_panic() {
        // legacy_version, random, session id, suites, compression, SNI "a.b" + ALPN "h2".
        let mut body = vec![3, 3];
        body.extend([7; 32]);
        body.extend([0, 0, 2, 0x13, 0x01, 1, 0]);
        let sni = [0, 0, 0, 8, 0, 6, 0, 0, 3, b'a', b'.', b'b'];
        let alpn = [0, 16, 0, 5, 0, 3, 2, b'h', b'2'];
        let exts: Vec<u8> = sni.iter().chain(alpn.iter()).copied().collect();
        body.extend((exts.len() as u16).to_be_bytes());
        body.extend(&exts);
        let hello = ClientHello::parse(&body).expect("whole hello parses");
        assert_eq!(hello.extensions.server_name, Some(&b"a.b"[..]));
        assert_eq!(hello.extensions.alpn, vec![&b"h2"[..]]);
        for cut in 0..body.len() - 1 {
            if cut != 2 + 32 + 1 + 4 + 2 {
                assert_eq!(ClientHello::parse(&body[..cut]), None, "cut at {cut}");
            }
        }
    }
}
