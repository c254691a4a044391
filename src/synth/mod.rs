//! Synthetic HTTP/DNS captures with a ground truth of every transaction's timestamps.
pub mod packet;
