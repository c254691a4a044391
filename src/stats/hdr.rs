//! HdrHistogram summaries: V2 (compressed, base64) encoding, merging, percentile distribution.
