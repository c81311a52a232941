//! mqtt-sim: a deterministic MQTT protocol simulator and test harness.
//!
//! A YAML scenario ([`scenario`]) describes brokers, scripted clients
//! ([`client`]), a timeline of steps and network faults. [`sim`] runs it on
//! turmoil's simulated network in simulated time, with one seed behind every
//! random choice. The reference broker lives in [`broker`]; both sides speak
//! MQTT through [`wire`]. What comes out is a [`trace`], which is rendered as
//! text or JSON and checked against the scenario's expectations.
//!
//! Data flows one way: scenario -> sim -> (broker, client) -> wire -> trace.

pub mod broker;
pub mod client;
pub mod coverage;
pub mod diagnostic;
pub mod diagram;
pub mod error;
pub mod golden;
pub mod invariants;
pub mod live;
pub mod mutants;
pub mod pcap;
pub mod scenario;
pub mod shards;
pub mod shrink;
pub mod sim;
pub mod topic;
pub mod trace;
pub mod wire;

pub use error::{Error, ErrorKind};
