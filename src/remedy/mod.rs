//! The remedies: what an engineer does by hand once a hang is named.
//! `exec` starts a program the way a careful launcher would (story 4 of the
//! field notes); `stop` clears a port held by processes that ignore SIGTERM
//! (story 1). Both talk to the kernel directly; `cmd/` only parses and prints.

pub mod exec;
pub mod stop;
