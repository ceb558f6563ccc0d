//! One folder per scan kind, named as its JSON `kind`: `mod.rs` says what
//! the kind is and the kernel facts it rests on, `judge.rs` decides (typed
//! results, no prose) and `words.rs` says it (title, explanation, fix);
//! `bad.json` and `healthy.json` are its recorded fixture pair. The `mod`
//! lines and the registry below are generated from the kind table
//! (`unwedge_model::for_each_kind!`): a scan kind added there does not
//! compile until its folder exists.

use crate::Ctx;
use unwedge_model::{Finding, Kind};

/// Appends the findings of one kind.
pub type Detect = fn(&Ctx, &mut Vec<Finding>);

macro_rules! detectors {
    ($($name:ident: $variant:ident, $source:ident, $about:ident, [$($ev:ident),+], $alert:tt;)*) => {
        $(pub(crate) mod $name;)*

        /// The detector of a scan kind; `None` for a probe kind (raised by
        /// `unwedge probe` from outside, not by a scan).
        pub fn detector(kind: Kind) -> Option<Detect> {
            match kind {
                $(Kind::$variant => Some($name::detect),)*
                _ => None,
            }
        }
    };
}

unwedge_model::for_each_scan_kind!(detectors);

pub(crate) mod shared;
