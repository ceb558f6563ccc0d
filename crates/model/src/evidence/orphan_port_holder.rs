use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrphanPortHolder {
    pub ports: BTreeSet<u16>,
    pub listening: Vec<String>,
    pub pgid: u32,
    pub group_leader_exists: bool,
    pub group_leader_zombie: bool,
    pub why_leftover: Option<String>,
    pub ppid: u32,
    pub parent_comm: Option<String>,
    pub sid: u32,
    pub age_s: f64,
    pub established_connections: usize,
    pub siblings_in_group: Vec<GroupSibling>,
    pub cmdline: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GroupSibling {
    pub pid: u32,
    pub comm: String,
    pub state: String,
    pub holds_listener: bool,
}

impl super::Measure for OrphanPortHolder {
    fn measure(&self) -> Option<(&'static str, u64)> {
        None
    }
}
