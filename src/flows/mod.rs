//! What each command does, end to end: observe, decide (in the pure core), check, write,
//! verify. Flows call the adapters and the core; they never print the final result's exit
//! code (that is `commands`).

pub mod audit;
pub mod fleet;
pub mod grant;
pub(crate) mod preflight;
pub(crate) mod restore;
pub mod revoke;
pub(crate) mod token;
pub mod verify;
pub mod via;
pub(crate) mod write_report;
