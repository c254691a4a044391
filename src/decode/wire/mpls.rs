//! One MPLS label stack entry (RFC 3032).

use super::{be32, clip, Result, WireError};

#[derive(Debug, Clone, Copy)]
pub struct MplsLabel<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> MplsLabel<T> {
    pub const ENTRY_LEN: usize = 4;

    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < Self::ENTRY_LEN {
            return Err(WireError::Truncated);
        }
        Ok(MplsLabel { buffer })
    }

    pub fn label(&self) -> u32 {
        be32(self.buffer.as_ref(), 0) >> 12
    }

    pub fn traffic_class(&self) -> u8 {
        ((be32(self.buffer.as_ref(), 0) >> 9) & 0x7) as u8
    }

    /// The last entry of the stack: the payload follows.
    pub fn bottom_of_stack(&self) -> bool {
        be32(self.buffer.as_ref(), 0) & 0x100 != 0
    }

    pub fn ttl(&self) -> u8 {
        be32(self.buffer.as_ref(), 0) as u8
    }
}

impl<'a> MplsLabel<&'a [u8]> {
    /// The next label entry, or the payload after the bottom of the stack.
    pub fn payload(&self) -> &'a [u8] {
        clip(self.buffer, Self::ENTRY_LEN, usize::MAX)
    }
}
