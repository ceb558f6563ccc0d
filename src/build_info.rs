//! What this binary is: version, commit, build date, target and linkage, as
//! build.rs found them ("unknown" when the build could not tell, e.g. from a
//! tarball without .git). `--version`, the man pages, `unwedge_build_info`
//! and the JSON reports all say the same, from here.

/// The package version (Cargo.toml).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const GIT_COMMIT: &str = env!("UNWEDGE_GIT_COMMIT");
pub const BUILD_DATE: &str = env!("UNWEDGE_BUILD_DATE");
pub const TARGET: &str = env!("UNWEDGE_TARGET");
/// "static" for the crt-static build (packaging/build-static.sh), else "dynamic".
pub const LINKAGE: &str = env!("UNWEDGE_LINKAGE");

/// `unwedge --version`: the same facts as the `unwedge_build_info` labels.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("UNWEDGE_GIT_COMMIT"),
    ", built ",
    env!("UNWEDGE_BUILD_DATE"),
    ", ",
    env!("UNWEDGE_TARGET"),
    ", ",
    env!("UNWEDGE_LINKAGE"),
    ")"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_long_version_is_made_of_the_parts() {
        assert_eq!(LONG_VERSION, format!("{VERSION} (commit {GIT_COMMIT}, built {BUILD_DATE}, {TARGET}, {LINKAGE})"));
        assert!(matches!(LINKAGE, "static" | "dynamic"));
    }
}
