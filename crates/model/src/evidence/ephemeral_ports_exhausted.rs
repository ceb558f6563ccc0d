use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct EphemeralPortsExhausted {
    /// The source address the connections leave from.
    pub local: String,
    /// The one destination they all go to ("10.0.0.5:5432").
    pub remote: String,
    /// Sockets on this (source, destination) pair holding a port from the range.
    pub sockets: u32,
    /// Their states as `ss` names them ("TIME-WAIT": 28000, "ESTAB": 120).
    pub by_state: BTreeMap<String, u32>,
    /// net.ipv4.ip_local_port_range of the namespace.
    pub port_range: [u16; 2],
    /// Ports connect() may pick: the range minus ip_local_reserved_ports.
    pub usable_ports: u32,
    /// `sockets` as a share of `usable_ports`.
    pub percent: f64,
    /// net.ipv4.tcp_tw_reuse (0 off, 1 on, 2 loopback only).
    pub tcp_tw_reuse: Option<u8>,
    /// Whether connect() may take over this pair's TIME-WAIT ports (older than 1 s).
    pub time_wait_reusable: bool,
    /// Processes owning the live (non-TIME-WAIT) sockets, most first.
    pub owners: Vec<PortOwner>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PortOwner {
    pub pid: u32,
    pub comm: String,
    pub sockets: u32,
}

impl super::Measure for EphemeralPortsExhausted {
    fn measure(&self) -> Option<(&'static str, u64)> {
        Some(("sockets", u64::from(self.sockets)))
    }
}
