use super::ThreadEvidence;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Zombie {
    pub count: usize,
    pub oldest_age_s: f64,
    pub zombies: Vec<ZombieChild>,
    pub by_comm: BTreeMap<String, usize>,
    pub parent_sigchld: Option<String>,
    pub parent_ignores_sigchld: Option<bool>,
    pub parent_blocked: Option<String>,
    pub parent_thread: Option<ThreadEvidence>,
    pub persisted_across_interval: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ZombieChild {
    pub pid: u32,
    pub comm: String,
    pub age_s: f64,
}

impl super::Measure for Zombie {
    fn measure(&self) -> Option<(&'static str, u64)> {
        Some(("count", self.count as u64))
    }
}
