//! LINKTYPE_IPOIB (242): IP over InfiniBand as Linux captures it: a 40-byte pseudo address
//! header (source and destination QPN/GID, 20 bytes each) and the 4-byte RFC 4391
//! encapsulation header (EtherType, reserved).

use super::{be16, clip, Result, WireError};

#[derive(Debug, Clone, Copy)]
pub struct IpoibHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> IpoibHeader<T> {
    pub const HEADER_LEN: usize = 44;

    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(IpoibHeader { buffer })
    }

    pub fn ethertype(&self) -> u16 {
        be16(self.buffer.as_ref(), 40)
    }
}

impl<'a> IpoibHeader<&'a [u8]> {
    pub fn payload(&self) -> &'a [u8] {
        clip(self.buffer, Self::HEADER_LEN, usize::MAX)
    }
}
