//! HPACK header decoding (RFC 7541).
