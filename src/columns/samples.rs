//! Rows of every type for tests: all optional values present, and all absent.

use crate::analyzers::seam::ConnInfo;
use crate::analyzers::{DnsTransaction, GrpcCall, HttpTransaction, TcpExchange, TlsConnection};
use crate::flows::FlowRecord;

const T0: i64 = 1_700_000_000_000_000_000;

pub fn http() -> Vec<HttpTransaction> {
    let full = HttpTransaction {
        connection_id: 7,
        depth: 2,
        client_ip: "10.0.0.1".parse().unwrap(),
        client_port: 40000,
        server_ip: "2001:db8::1".parse().unwrap(),
        server_port: 443,
        method: "POST".into(),
        host: Some("example.com".into()),
        uri: "/helloworld.Greeter/SayHello".into(),
        version: "HTTP/2".into(),
        status: Some(200),
        request_bytes: 10,
        response_bytes: 20,
        request_body_bytes: 1,
        response_body_bytes: 2,
        request_first_ns: Some(T0),
        request_last_ns: Some(T0 + 5),
        request_head_ns: Some(T0),
        response_first_ns: Some(T0 + 100),
        response_last_ns: Some(T0 + 180),
        response_head_ns: Some(T0 + 100),
        flags: vec!["gap"],
        tls: true,
        sni: Some("example.com".into()),
        stream_id: Some(3),
        grpc: Some(GrpcCall {
            service: "helloworld.Greeter".into(),
            method: "SayHello".into(),
            status: Some(14),
            message: Some("unavailable".into()),
            request_messages: 1,
            response_messages: 2,
        }),
    };
    let empty = HttpTransaction {
        method: Default::default(),
        host: None,
        status: None,
        request_first_ns: None,
        request_last_ns: None,
        response_first_ns: None,
        response_last_ns: None,
        flags: vec![],
        tls: false,
        sni: None,
        stream_id: None,
        grpc: None,
        ..full.clone()
    };
    let mut grpc_without_trailers = full.clone();
    if let Some(g) = grpc_without_trailers.grpc.as_mut() {
        g.status = None;
        g.message = None;
    }
    vec![full, empty, grpc_without_trailers]
}

pub fn dns() -> Vec<DnsTransaction> {
    let full = DnsTransaction {
        client_ip: "10.0.0.1".parse().unwrap(),
        client_port: 5353,
        server_ip: "10.0.0.53".parse().unwrap(),
        server_port: 53,
        transport: "udp",
        id: 0xffff,
        query_name: "example.com".into(),
        query_type: 65,
        rcode: Some(3),
        answers: 2,
        query_ns: Some(T0),
        response_ns: Some(T0 + 9),
        flags: vec!["duplicate_response"],
    };
    let empty = DnsTransaction {
        rcode: None,
        response_ns: None,
        flags: vec![],
        ..full.clone()
    };
    vec![full, empty]
}

pub fn tcp() -> Vec<TcpExchange> {
    let full = TcpExchange {
        connection_id: 1,
        exchange: 4,
        protocol: "unknown",
        client_ip: "10.0.0.1".parse().unwrap(),
        client_port: 40000,
        server_ip: "10.0.0.2".parse().unwrap(),
        server_port: 6379,
        server_rule: "syn",
        request_bytes: 30,
        response_bytes: 5,
        request_first_ns: Some(T0),
        request_last_ns: Some(T0 + 1),
        response_first_ns: Some(T0 + 50),
        response_last_ns: Some(T0 + 51),
        flags: vec!["overlapped"],
    };
    let empty = TcpExchange {
        request_first_ns: None,
        response_first_ns: None,
        response_last_ns: None,
        request_last_ns: None,
        flags: vec![],
        ..full.clone()
    };
    vec![full, empty]
}

pub fn flows() -> Vec<FlowRecord> {
    let full = FlowRecord {
        flow_id: 9,
        protocol: "tcp".into(),
        client_ip: "10.0.0.1".parse().unwrap(),
        client_port: 40000,
        server_ip: "10.0.0.2".parse().unwrap(),
        server_port: 80,
        first_ns: T0,
        last_ns: T0 + 1000,
        client_packets: 1,
        client_bytes: 2,
        client_payload_bytes: 3,
        server_packets: 4,
        server_bytes: 5,
        server_payload_bytes: 6,
        tcp_state: Some("SF".into()),
        syn_to_synack_ns: Some(7),
        synack_to_ack_ns: Some(8),
    };
    let empty = FlowRecord {
        protocol: "icmp".into(),
        tcp_state: None,
        syn_to_synack_ns: None,
        synack_to_ack_ns: None,
        ..full.clone()
    };
    vec![full, empty]
}

pub fn tls() -> Vec<TlsConnection> {
    let info = ConnInfo {
        connection_id: 3,
        senders: [
            ("10.0.0.1".parse().unwrap(), 5000),
            ("2001:db8::2".parse().unwrap(), 443),
        ],
        handshake_client: None,
        endpoint_connections: None,
    };
    let empty = TlsConnection::new(&info);
    let mut full = empty.clone();
    full.sni = Some("b\u{fc}cher.example\"\\".into());
    full.alpn_offered = vec!["h2".into(), "http/1.1".into()];
    full.alpn = Some("h2".into());
    full.version = Some("TLS 1.3".into());
    full.cipher_suite = Some("TLS_AES_128_GCM_SHA256".into());
    full.resumed = true;
    full.client_hello_ns = Some(T0);
    full.server_hello_ns = Some(T0 + 10);
    full.hello_ns = Some(10);
    full.handshake_ns = Some(20);
    full.first_data_ns = Some(T0 + 20);
    full.alerts = vec!["client: warning close_notify".into()];
    full.decrypted = true;
    full.undecrypted_reason = Some("no key".into());
    full.flags = vec!["gap", "hello_retry"];
    full.legacy_version = Some("TLS 1.2".into());
    full.resumption = Some("psk");
    full.handshake_end = Some("client_finished");
    full.server_first_data_ns = Some(T0 + 30);
    vec![empty, full]
}
