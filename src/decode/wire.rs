//! Zero-copy header views (filled in by the decode work).
