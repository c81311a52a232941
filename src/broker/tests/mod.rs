//! The broker driven through `handle` over in-memory streams, with the
//! clock paused.

mod delivery;
mod lifecycle;
mod support;
mod turmoil_net;
