//! Support for the fuzz targets in `fuzz_targets/`: how an edit target's input is laid out,
//! and what an aws-auth entry means once its place in the text is set aside.

pub mod edit_input;
pub mod meaning;
