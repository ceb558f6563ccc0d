//! One module per subcommand.

pub mod exec;
pub mod scan;
pub mod stop;
