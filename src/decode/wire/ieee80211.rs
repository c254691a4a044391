//! IEEE 802.11 MAC headers (LINKTYPE_IEEE802_11, 105) and the 802.2 LLC / SNAP header that
//! carries an EtherType in data frames.
//!
//! Only what is needed to reach the network layer is modelled: the frame control field, the
//! addresses, and the length of a data frame's header, which grows with a fourth address
//! (frames between access points, ToDS and FromDS both set), a QoS control field (QoS
//! subtypes) and an HT control field (QoS frames with the Order bit).

use super::{array, be16, byte, clip, Result, WireError};

/// The frame type (bits 2-3 of the first frame control byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameType {
    Management,
    Control,
    Data,
    Extension,
}

/// Frame control flag bits (second byte).
mod flag {
    pub const TO_DS: u8 = 0x01;
    pub const FROM_DS: u8 = 0x02;
    pub const PROTECTED: u8 = 0x40;
    pub const ORDER: u8 = 0x80;
}

/// An 802.11 frame. `new_checked` proves the frame control field is present, and for data
/// frames the whole MAC header.
#[derive(Debug, Clone, Copy)]
pub struct Ieee80211Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ieee80211Frame<T> {
    /// Frame control, duration, three addresses, sequence control.
    pub const BASE_HEADER_LEN: usize = 24;

    pub fn new_checked(buffer: T) -> Result<Self> {
        let frame = Ieee80211Frame { buffer };
        let len = frame.buffer.as_ref().len();
        if len < 2 {
            return Err(WireError::Truncated);
        }
        if frame.frame_type() == FrameType::Data && len < frame.header_len() {
            return Err(WireError::Truncated);
        }
        Ok(frame)
    }

    /// 0 for every 802.11 frame defined so far.
    pub fn protocol_version(&self) -> u8 {
        byte(self.buffer.as_ref(), 0) & 0x03
    }

    pub fn frame_type(&self) -> FrameType {
        match (byte(self.buffer.as_ref(), 0) >> 2) & 0x03 {
            0 => FrameType::Management,
            1 => FrameType::Control,
            2 => FrameType::Data,
            _ => FrameType::Extension,
        }
    }

    pub fn subtype(&self) -> u8 {
        byte(self.buffer.as_ref(), 0) >> 4
    }

    fn flags(&self) -> u8 {
        byte(self.buffer.as_ref(), 1)
    }

    pub fn to_ds(&self) -> bool {
        self.flags() & flag::TO_DS != 0
    }

    pub fn from_ds(&self) -> bool {
        self.flags() & flag::FROM_DS != 0
    }

    /// The body is encrypted (WEP, TKIP, CCMP, GCMP).
    pub fn protected(&self) -> bool {
        self.flags() & flag::PROTECTED != 0
    }

    pub fn order(&self) -> bool {
        self.flags() & flag::ORDER != 0
    }

    /// QoS data subtypes (8-15) carry a 2-byte QoS control field.
    pub fn is_qos_data(&self) -> bool {
        self.frame_type() == FrameType::Data && self.subtype() & 0x08 != 0
    }

    /// Null function and CF-Ack/Poll-only subtypes have no frame body.
    pub fn data_has_body(&self) -> bool {
        self.subtype() & 0x04 == 0
    }

    /// Length of a data frame's MAC header; other frame types report the base 24 bytes.
    pub fn header_len(&self) -> usize {
        if self.frame_type() != FrameType::Data {
            return Self::BASE_HEADER_LEN;
        }
        let mut len = Self::BASE_HEADER_LEN;
        if self.to_ds() && self.from_ds() {
            len += 6;
        }
        if self.is_qos_data() {
            len += 2;
            // The HT control field exists only in QoS data (and management) frames; in
            // non-QoS data frames the Order bit means "strictly ordered" instead.
            if self.order() {
                len += 4;
            }
        }
        len
    }

    /// QoS control bit 7: the body is an A-MSDU (a sequence of subframes), not an LLC header.
    pub fn amsdu_present(&self) -> bool {
        self.is_qos_data() && byte(self.buffer.as_ref(), self.qos_control_at()) & 0x80 != 0
    }

    fn qos_control_at(&self) -> usize {
        if self.to_ds() && self.from_ds() {
            30
        } else {
            24
        }
    }

    pub fn addr1(&self) -> [u8; 6] {
        array(self.buffer.as_ref(), 4)
    }

    pub fn addr2(&self) -> [u8; 6] {
        array(self.buffer.as_ref(), 10)
    }

    pub fn addr3(&self) -> [u8; 6] {
        array(self.buffer.as_ref(), 16)
    }

    /// Present only when ToDS and FromDS are both set (zeros otherwise).
    pub fn addr4(&self) -> [u8; 6] {
        if self.to_ds() && self.from_ds() {
            array(self.buffer.as_ref(), 24)
        } else {
            [0; 6]
        }
    }

    /// The final destination of a data frame (tshark's `wlan.da`): which address holds it
    /// depends on the direction bits.
    pub fn destination(&self) -> [u8; 6] {
        if self.to_ds() {
            self.addr3()
        } else {
            self.addr1()
        }
    }

    /// The original source of a data frame (tshark's `wlan.sa`).
    pub fn source(&self) -> [u8; 6] {
        match (self.to_ds(), self.from_ds()) {
            (_, false) => self.addr2(),
            (false, true) => self.addr3(),
            (true, true) => self.addr4(),
        }
    }
}

impl<'a> Ieee80211Frame<&'a [u8]> {
    /// The frame body after the MAC header; `padded` rounds the header up to 4 bytes (radiotap's
    /// "data pad" flag, set by drivers that align the body).
    pub fn payload(&self, padded: bool) -> &'a [u8] {
        let len = self.header_len();
        let start = if padded { (len + 3) & !3 } else { len };
        clip(self.buffer, start, usize::MAX)
    }
}

/// The first subframe header of an A-MSDU: destination, source, length (big-endian).
#[derive(Debug, Clone, Copy)]
pub struct AmsduSubframe<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> AmsduSubframe<T> {
    pub const HEADER_LEN: usize = 14;

    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(AmsduSubframe { buffer })
    }

    pub fn length(&self) -> u16 {
        be16(self.buffer.as_ref(), 12)
    }
}

impl<'a> AmsduSubframe<&'a [u8]> {
    /// The subframe's MSDU (an LLC header and its payload), cut to the length field.
    pub fn payload(&self) -> &'a [u8] {
        clip(
            self.buffer,
            Self::HEADER_LEN,
            Self::HEADER_LEN + self.length() as usize,
        )
    }
}

/// An 802.2 LLC header, possibly extended by SNAP (`aa aa 03`, a 3-byte OUI and a 2-byte
/// protocol id, which is an EtherType when the OUI is 00-00-00 or 00-00-f8).
#[derive(Debug, Clone, Copy)]
pub struct LlcHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> LlcHeader<T> {
    /// DSAP, SSAP and a 1-byte control field (the shortest LLC header).
    pub const MIN_HEADER_LEN: usize = 3;
    pub const SNAP_HEADER_LEN: usize = 8;

    pub fn new_checked(buffer: T) -> Result<Self> {
        let llc = LlcHeader { buffer };
        let len = llc.buffer.as_ref().len();
        if len < Self::MIN_HEADER_LEN || (llc.is_snap() && len < Self::SNAP_HEADER_LEN) {
            return Err(WireError::Truncated);
        }
        Ok(llc)
    }

    pub fn dsap(&self) -> u8 {
        byte(self.buffer.as_ref(), 0)
    }

    pub fn ssap(&self) -> u8 {
        byte(self.buffer.as_ref(), 1)
    }

    /// SAP 0xAA with an unnumbered-information control field announces a SNAP header.
    pub fn is_snap(&self) -> bool {
        self.dsap() == 0xaa && self.ssap() == 0xaa && byte(self.buffer.as_ref(), 2) == 0x03
    }

    pub fn snap_oui(&self) -> [u8; 3] {
        array(self.buffer.as_ref(), 3)
    }

    /// The EtherType carried by SNAP (RFC 1042 or 802.1H bridge tunnel encapsulation).
    pub fn ethertype(&self) -> Option<u16> {
        if self.is_snap() && matches!(self.snap_oui(), [0, 0, 0] | [0, 0, 0xf8]) {
            Some(be16(self.buffer.as_ref(), 6))
        } else {
            None
        }
    }
}

impl<'a> LlcHeader<&'a [u8]> {
    /// The payload after a SNAP header (empty for plain LLC, whose payload we do not decode).
    pub fn snap_payload(&self) -> &'a [u8] {
        if self.is_snap() {
            clip(self.buffer, Self::SNAP_HEADER_LEN, usize::MAX)
        } else {
            &[]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_header_lengths() {
        // Frame control only matters for the length; the rest is zeros.
        let mut bytes = [0u8; 40];
        let len_of = |fc0: u8, fc1: u8, bytes: &mut [u8; 40]| {
            bytes[0] = fc0;
            bytes[1] = fc1;
            Ieee80211Frame::new_checked(&bytes[..])
                .unwrap()
                .header_len()
        };
        assert_eq!(len_of(0x08, 0x00, &mut bytes), 24); // data
        assert_eq!(len_of(0x08, 0x03, &mut bytes), 30); // data, 4 addresses
        assert_eq!(len_of(0x88, 0x01, &mut bytes), 26); // QoS data
        assert_eq!(len_of(0x88, 0x83, &mut bytes), 36); // QoS, 4 addresses, HT control
        assert_eq!(len_of(0x08, 0x80, &mut bytes), 24); // non-QoS: Order adds nothing
        assert_eq!(len_of(0x80, 0x00, &mut bytes), 24); // beacon
    }

    #[test]
    fn short_data_frame_is_truncated_short_control_frame_is_not() {
        let qos_data = [0x88u8, 0x01, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            Ieee80211Frame::new_checked(&qos_data[..]).err(),
            Some(WireError::Truncated)
        );
        // An ACK (control, subtype 13) is 10 bytes.
        let ack = [0xd4u8, 0x00, 0, 0, 1, 2, 3, 4, 5, 6];
        let frame = Ieee80211Frame::new_checked(&ack[..]).unwrap();
        assert_eq!(frame.frame_type(), FrameType::Control);
        assert_eq!(frame.payload(false), &[] as &[u8]);
    }

    #[test]
    fn snap_ethertype_needs_an_encapsulation_oui() {
        let rfc1042 = [0xaau8, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00];
        assert_eq!(
            LlcHeader::new_checked(&rfc1042[..]).unwrap().ethertype(),
            Some(0x0800)
        );
        let cisco = [0xaau8, 0xaa, 0x03, 0, 0, 0x0c, 0x20, 0x00];
        assert_eq!(
            LlcHeader::new_checked(&cisco[..]).unwrap().ethertype(),
            None
        );
        let stp = [0x42u8, 0x42, 0x03];
        let llc = LlcHeader::new_checked(&stp[..]).unwrap();
        assert!(!llc.is_snap());
        assert_eq!(llc.ethertype(), None);
        assert_eq!(
            LlcHeader::new_checked(&rfc1042[..7]).err(),
            Some(WireError::Truncated)
        );
    }
}
