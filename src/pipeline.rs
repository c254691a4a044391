//! One pass over a capture, wiring capture -> decode -> flows -> analyzers.
