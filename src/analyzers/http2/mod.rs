//! HTTP/2 (RFC 9113) and gRPC: one transaction per stream, in the same model as HTTP/1.x.
//!
//! - [`hpack`]: header block decoding (RFC 7541) with the dynamic table, and honest
//!   "unknown" answers when the capture started after the table was built.
//! - [`grpc`]: what a gRPC call adds to its stream (service, method, status, message counts).
mod analyzer;
mod detect;
mod figures;
pub mod frame;
pub mod grpc;
pub mod hpack;
mod stream;

pub use analyzer::{H2Conn, REGISTRATION};
pub use figures::Http2Connection;
