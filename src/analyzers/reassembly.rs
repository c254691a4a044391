//! TCP stream reassembly with bounded buffering and gap detection.
