//! The broker driven through `handle` over in-memory streams, with the
//! clock paused.

mod delivery;
mod lifecycle;
mod spec_gaps;
mod support;
mod turmoil_net;
mod v5;
mod v5_flow;
mod v5_session;
