//! PPPoE (RFC 2516) and the PPP protocol field that follows it (also used by PPTP's GRE).

use super::{be16, byte, clip, Result, WireError};

/// The 6-byte PPPoE header: version/type, code, session id, payload length.
#[derive(Debug, Clone, Copy)]
pub struct PppoeHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> PppoeHeader<T> {
    pub const HEADER_LEN: usize = 6;

    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(PppoeHeader { buffer })
    }

    pub fn version(&self) -> u8 {
        byte(self.buffer.as_ref(), 0) >> 4
    }

    pub fn pppoe_type(&self) -> u8 {
        byte(self.buffer.as_ref(), 0) & 0x0f
    }

    /// 0 for session data; PADI/PADO/... codes in discovery.
    pub fn code(&self) -> u8 {
        byte(self.buffer.as_ref(), 1)
    }

    pub fn session_id(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }

    pub fn payload_len(&self) -> u16 {
        be16(self.buffer.as_ref(), 4)
    }
}

impl<'a> PppoeHeader<&'a [u8]> {
    /// The payload, trimmed to the length field (drops Ethernet padding).
    pub fn payload(&self) -> &'a [u8] {
        clip(
            self.buffer,
            Self::HEADER_LEN,
            Self::HEADER_LEN + self.payload_len() as usize,
        )
    }
}

/// A PPP frame as carried by PPPoE, GRE or a PPP link: optional address/control bytes
/// `ff 03`, then a 1-byte (compressed, odd) or 2-byte protocol number.
#[derive(Debug, Clone, Copy)]
pub struct PppFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> PppFrame<T> {
    pub fn new_checked(buffer: T) -> Result<Self> {
        let frame = PppFrame { buffer };
        if frame.buffer.as_ref().len() < frame.header_len() {
            return Err(WireError::Truncated);
        }
        Ok(frame)
    }

    /// An HDLC-like frame starts with the all-stations address 0xff and a control byte
    /// (0x03, unnumbered information). No protocol number starts with 0xff (the first byte
    /// of an uncompressed protocol is even; 0xff as a compressed one is unassigned), so 0xff
    /// always means the address is there, whatever the control byte says (tshark agrees).
    fn protocol_at(&self) -> usize {
        if byte(self.buffer.as_ref(), 0) == 0xff {
            2
        } else {
            0
        }
    }

    /// Protocol field compression: a protocol whose first byte is odd is sent as one byte.
    fn protocol_is_compressed(&self) -> bool {
        byte(self.buffer.as_ref(), self.protocol_at()) & 1 == 1
    }

    pub fn header_len(&self) -> usize {
        self.protocol_at() + if self.protocol_is_compressed() { 1 } else { 2 }
    }

    /// 0x0021 IPv4, 0x0057 IPv6, 0x0281 MPLS, 0xc021 LCP, ...
    pub fn protocol(&self) -> u16 {
        let at = self.protocol_at();
        if self.protocol_is_compressed() {
            byte(self.buffer.as_ref(), at) as u16
        } else {
            be16(self.buffer.as_ref(), at)
        }
    }
}

impl<'a> PppFrame<&'a [u8]> {
    pub fn payload(&self) -> &'a [u8] {
        clip(self.buffer, self.header_len(), usize::MAX)
    }
}
