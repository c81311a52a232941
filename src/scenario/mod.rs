//! Scenario files: YAML in, a validated [`Scenario`] out, or an error that
//! names the file, line and column.
//!
//! All YAML handling lives in this module, so that swapping the YAML crate
//! stays a one-module change.

mod model;

pub use model::*;
