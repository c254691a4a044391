//! Packets -> protocol counts, bidirectional conversations and Scapy session keys.

use compact_str::CompactString;
use serde::Serialize;
use std::net::IpAddr;

/// What a conversation table shows after its endpoints, as the `sessions` table and the
/// report's "Top sessions" head it (one list, so both name them alike).
pub const CONVERSATION_FIGURES: [&str; 7] = [
    "duration",
    "pkts →",
    "bytes →",
    "pkts ←",
    "bytes ←",
    "state",
    "handshake",
];

/// One bidirectional conversation (like Zeek's conn.log or tshark's `-z conv`), one row per
/// connection. The client (originator) is the side that sent the first packet, or the SYN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowRecord {
    /// Index of the flow in order of its first packet, from 0 (matches `connection_id` of HTTP rows).
    pub flow_id: u64,
    /// `tcp`, `udp`, `icmp`, `icmpv6`, or `ip-<protocol number>`.
    pub protocol: CompactString,
    pub client_ip: IpAddr,
    pub client_port: u16,
    pub server_ip: IpAddr,
    pub server_port: u16,
    pub first_ns: i64,
    pub last_ns: i64,
    pub client_packets: u64,
    /// Frame bytes on the wire (original length), like tshark's conversation table.
    pub client_bytes: u64,
    pub client_payload_bytes: u64,
    pub server_packets: u64,
    pub server_bytes: u64,
    pub server_payload_bytes: u64,
    /// Zeek-style connection state for TCP (`S0`, `S1`, `SF`, `REJ`, `RSTO`, `OTH`, ...).
    pub tcp_state: Option<CompactString>,
    /// SYN -> SYN/ACK and SYN/ACK -> ACK times of the handshake, when seen.
    pub syn_to_synack_ns: Option<i64>,
    pub synack_to_ack_ns: Option<i64>,
}

impl FlowRecord {
    /// A flow's record when its first packet, at `first_ns`, opened it: nothing counted yet.
    pub(crate) fn opened(
        flow_id: u64,
        protocol: CompactString,
        (client_ip, client_port): (IpAddr, u16),
        (server_ip, server_port): (IpAddr, u16),
        first_ns: i64,
    ) -> Self {
        FlowRecord {
            flow_id,
            protocol,
            client_ip,
            client_port,
            server_ip,
            server_port,
            first_ns,
            last_ns: first_ns,
            client_packets: 0,
            client_bytes: 0,
            client_payload_bytes: 0,
            server_packets: 0,
            server_bytes: 0,
            server_payload_bytes: 0,
            tcp_state: None,
            syn_to_synack_ns: None,
            synack_to_ack_ns: None,
        }
    }

    pub fn duration_ns(&self) -> i64 {
        self.last_ns.saturating_sub(self.first_ns)
    }
    /// Handshake round trip seen from the capture point (SYN -> final ACK).
    pub fn handshake_ns(&self) -> Option<i64> {
        Some(
            self.syn_to_synack_ns?
                .saturating_add(self.synack_to_ack_ns?),
        )
    }
}

pub mod clock;
pub mod counts;
pub mod filter;
pub mod lanes;
pub mod scapy;
pub mod table;

pub use clock::CaptureClock;
pub use counts::ProtocolCounts;
pub use filter::{PacketFilter, PacketSelection, TimeBound};
pub use table::{FlowKeyed, FlowTable, FlowUpdate, DEFAULT_MAX_FLOWS};
