//! Exploring a scenario over many seeds, on top of [`crate::sim`]: the
//! runs themselves (`seeds.rs`: a seed range, its shards, one run per
//! seed on worker threads), the result of one shard as a JSON document
//! and the merge of such documents from several machines ([`shards`]),
//! and the shrinking of a failing seed to the smallest scenario that
//! still fails the same way ([`shrink`]); and each seed's fault schedule
//! run against a real broker ([`live`]).
//!
//! Nothing below this module (sim, scenario, trace, invariants, client,
//! broker, wire) imports it.

pub mod live;
mod seeds;
pub mod shards;
pub mod shrink;

pub use seeds::{
    FAILURES_KEPT_MAX, Failure, Options, Progress, SeedSet, Shard, Summary, explore, fingerprint,
};
