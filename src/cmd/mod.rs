//! One module per subcommand.

pub mod probe;
pub mod scan;
pub mod serve;
