//! gRPC over HTTP/2: the call behind a stream.
