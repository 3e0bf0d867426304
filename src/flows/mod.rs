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

/// Frees `value` on a thread of its own. What an answer was built from (a 16x snapshot: about
/// a million strings and vectors) takes ~10 ms of `free` calls (perf, release build), time the
/// answer would otherwise wait for; in a one-shot run the process exits first and the kernel
/// takes the memory back.
pub(crate) fn free_aside<T: Send + 'static>(value: T) {
    // Spawning fails only when the system is out of threads; the value is then freed here.
    let _ = std::thread::Builder::new()
        .name("free".into())
        .spawn(move || drop(value));
}
