//! mqtt-sim: a deterministic MQTT protocol simulator and test harness.
//!
//! A YAML scenario ([`scenario`]) describes brokers, scripted clients
//! ([`client`]), a timeline of steps and network faults. [`sim`] runs it on
//! turmoil-net's simulated network in simulated time, with one seed behind
//! every random choice. The reference broker lives in [`broker`]; both sides
//! speak MQTT through [`wire`]. What comes out is a [`trace`], which
//! [`judge`] checks against the scenario's expectations and the protocol
//! [`invariants`], and which is rendered as text or JSON.
//!
//! Data flows one way: scenario -> sim -> (broker, client) -> wire -> trace
//! -> judge. The modules are layers, each importing only those below it
//! (ARCHITECTURE.md, "The layers"; enforced by `LAYERS` in tests/tidy.rs).

pub mod broker;
pub mod client;
pub mod coverage;
pub mod diagnostic;
pub mod diagram;
pub mod error;
pub mod explore;
pub mod golden;
pub mod invariants;
pub mod judge;
pub mod live;
pub mod mutants;
pub mod packet_json;
pub mod pcap;
pub mod profile;
pub mod scenario;
pub mod sim;
pub mod suite;
pub mod topic;
pub mod trace;
pub mod wire;

pub use error::{Error, ErrorKind};
