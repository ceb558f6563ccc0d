//! One module per subcommand.

pub mod exec;
pub mod explain;
pub mod generate;
pub mod probe;
pub mod scan;
pub mod serve;
pub mod stop;
pub mod watch;
