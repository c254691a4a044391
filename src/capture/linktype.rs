//! LINKTYPE_* values (tcpdump.org/linktypes.html) that tracetail decodes, plus a name for others.

/// A pcap/pcapng link type. Unknown values are kept, counted and reported, never an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u16);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    pub const RAW_12: LinkType = LinkType(12);
    pub const RAW_14: LinkType = LinkType(14);
    pub const RAW: LinkType = LinkType(101);
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// Short name as in tcpdump's LINKTYPE list, or `LINKTYPE_<n>`.
    pub fn name(self) -> String {
        let known = match self.0 {
            0 => "NULL",
            1 => "ETHERNET",
            8 => "SLIP",
            9 => "PPP",
            12 | 14 | 101 => "RAW",
            50 => "PPP_HDLC",
            51 => "PPP_ETHER",
            104 => "C_HDLC",
            105 => "IEEE802_11",
            108 => "LOOP",
            113 => "LINUX_SLL",
            117 => "PFLOG",
            119 => "IEEE802_11_PRISM",
            127 => "IEEE802_11_RADIOTAP",
            163 => "IEEE802_11_AVS",
            182 => "MFR",
            189 => "USB_LINUX",
            192 => "PPI",
            220 => "USB_LINUX_MMAPPED",
            226 => "IPNET",
            228 => "IPV4",
            229 => "IPV6",
            239 => "NFLOG",
            242 => "IPOIB",
            249 => "USBPCAP",
            252 => "WIRESHARK_UPPER_PDU",
            258 => "PKTAP",
            274 => "ETHERNET_MPACKET",
            276 => "LINUX_SLL2",
            _ => return format!("LINKTYPE_{}", self.0),
        };
        format!("{known}({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::LinkType;

    #[test]
    fn names() {
        assert_eq!(LinkType::ETHERNET.name(), "ETHERNET(1)");
        assert_eq!(LinkType::RAW_14.name(), "RAW(14)");
        assert_eq!(LinkType(182).name(), "MFR(182)");
        assert_eq!(LinkType(4242).name(), "LINKTYPE_4242");
    }
}
