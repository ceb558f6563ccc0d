//! Ids: each finding's (`f1`, `f2`, … in report order) and each group's
//! (`g1`, … in the order of their representatives).

use crate::facts::index::FastMap;
use unwedge_model::{Finding, Group};

/// Numbers the findings in their (sorted) order.
pub fn number_findings(findings: &mut [Finding]) {
    for (i, f) in findings.iter_mut().enumerate() {
        f.id = format!("f{}", i + 1);
    }
}

/// Replaces the groups' provisional ids by their final ones, in report order.
pub fn number_groups(findings: &mut [Finding], groups: &mut [Group]) {
    // In report order: the group whose representative comes first, first.
    let pos: FastMap<&str, usize> = findings.iter().enumerate().map(|(i, f)| (f.id.as_str(), i)).collect();
    groups.sort_by_key(|g| pos.get(g.representative.as_str()).copied().unwrap_or(usize::MAX));
    let renamed: FastMap<String, String> =
        groups.iter().enumerate().map(|(i, g)| (g.id.clone(), format!("g{}", i + 1))).collect();
    for g in groups.iter_mut() {
        g.id = renamed[&g.id].clone();
    }
    for f in findings.iter_mut() {
        if let Some(new) = f.group.as_ref().and_then(|g| renamed.get(g)) {
            f.group = Some(new.clone());
        }
    }
}
