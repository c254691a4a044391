//! Columns of DNS transactions: `tracetail dns --json/--csv`, the `dns` table.

use super::writers::unrolled;
use super::ColumnType::{Int32, Int64, TimestampNsUtc, Utf8, Utf8List};
use super::{
    capture, client_ip, client_port, col, server_ip, server_port, text_only, Column, RowColumns,
    Value,
};
use crate::analyzers::DnsTransaction;

pub static DNS: RowColumns<DnsTransaction> =
    RowColumns::new(DNS_COLUMNS).with_unrolled(unrolled!(DnsTransaction, DNS_COLUMNS));

const DNS_COLUMNS: &[Column<DnsTransaction>] = &[
    capture(),
    client_ip(),
    client_port(),
    server_ip(),
    server_port(),
    col("transport", Utf8, false, "`udp` or `tcp`", |d| {
        d.transport.into()
    }),
    col("id", Int32, false, "DNS message id", |d| d.id.into()),
    col(
        "query_name",
        Utf8,
        false,
        "first question name, dotted, no trailing dot",
        |d| (&d.query_name).into(),
    ),
    col(
        "query_type",
        Int32,
        false,
        "first question type (1 = A, 28 = AAAA, ...)",
        |d| d.query_type.into(),
    ),
    col(
        "rcode",
        Int32,
        true,
        "response code (0 = NOERROR); null if unanswered",
        |d| d.rcode.into(),
    ),
    col("answers", Int32, false, "answer record count", |d| {
        d.answers.into()
    }),
    col(
        "query_ns",
        TimestampNsUtc,
        true,
        "capture time of the query",
        |d| d.query_ns.into(),
    ),
    col(
        "response_ns",
        TimestampNsUtc,
        true,
        "capture time of the response",
        |d| d.response_ns.into(),
    ),
    col("latency_ns", Int64, true, "`response_ts - query_ts`", |d| {
        d.latency_ns().into()
    }),
    col(
        "flags",
        Utf8List,
        false,
        "`unanswered`, `orphan_response`, `malformed`, ...",
        |d| (&d.flags).into(),
    ),
    text_only(col(
        "query_type_name",
        Utf8,
        false,
        "mnemonic of `query_type` (`A`, `AAAA`, `TYPE65280`)",
        |d| match query_type_mnemonic(d.query_type) {
            Some(name) => name.into(),
            None => query_type_name(d.query_type).into(),
        },
    )),
    text_only(col(
        "rcode_name",
        Utf8,
        true,
        "name of `rcode` (`NOERROR`, `NXDOMAIN`, `RCODE11`)",
        |d| match d.rcode.map(|r| (r, rcode_mnemonic(r))) {
            None => Value::Null,
            Some((_, Some(name))) => name.into(),
            Some((r, None)) => rcode_name(r).into(),
        },
    )),
];

/// A query type's mnemonic (RFC 1035 and successors), `TYPE<n>` for others (RFC 3597).
pub fn query_type_name(query_type: u16) -> String {
    query_type_mnemonic(query_type).map_or_else(|| format!("TYPE{query_type}"), str::to_string)
}

/// The mnemonic of a known query type (the columns write it without allocating).
pub fn query_type_mnemonic(query_type: u16) -> Option<&'static str> {
    Some(match query_type {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        12 => "PTR",
        13 => "HINFO",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        35 => "NAPTR",
        41 => "OPT",
        43 => "DS",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        64 => "SVCB",
        65 => "HTTPS",
        252 => "AXFR",
        255 => "ANY",
        257 => "CAA",
        _ => return None,
    })
}

/// A response code's name (RFC 1035, 2136, 6891), `RCODE<n>` for others.
pub fn rcode_name(rcode: u8) -> String {
    rcode_mnemonic(rcode).map_or_else(|| format!("RCODE{rcode}"), str::to_string)
}

/// The name of a known response code.
pub fn rcode_mnemonic(rcode: u8) -> Option<&'static str> {
    Some(match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        16 => "BADVERS",
        _ => return None,
    })
}
