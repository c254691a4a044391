//! Packets -> protocol counts, bidirectional conversations and Scapy session keys.
