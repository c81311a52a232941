//! What the simulation runs as a broker host: the plug-in point for brokers
//! under test.
//!
//! A [`BrokerUnderTest`] is asked once per broker host of a run for a
//! [`HostFactory`]; the harness calls that factory every time the host
//! starts, at the beginning of the run and again after each `restart`, with
//! a freshly bound [`Listener`](super::Listener). State created inside the returned future
//! dies with a `crash`; state the factory captures survives it. That is how
//! the reference broker keeps its store for `persistence: true`, and it is
//! a broker's own business: the trait does not know about it.
//!
//! Everything of one run lives on one thread, so the factory and its futures
//! need not be `Send`; the target itself is shared between the threads of
//! parallel runs, so it is `Send + Sync`.

#![warn(missing_docs)]

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;

use crate::broker::{BridgeLink, Broker, BrokerConfig, Notes, Store};
use crate::profile::Profile;

/// What serving one start of a broker host amounts to. It should run until
/// the host is crashed or the run ends; returning `Err` fails the run.
pub type ServeFuture = Pin<Box<dyn Future<Output = io::Result<()>>>>;

/// Starts a broker host on the listener the harness bound for it (port
/// [`crate::broker::PORT`]); called again after every restart. The
/// listener implements [`crate::broker::Listener`]; its streams are tokio
/// `AsyncRead + AsyncWrite`, and tokio's timers work as usual.
pub type HostFactory = Box<dyn Fn(super::Listener) -> ServeFuture>;

/// A broker that the scenarios can run against in simulation.
pub trait BrokerUnderTest: Send + Sync {
    /// The target name that expectations' `only_for` and `not_for` use.
    fn name(&self) -> &str;

    /// Its broker profile: the documented deviations the invariants
    /// follow. None by default: a broker without one has no deviations.
    fn profile(&self) -> Option<&Profile> {
        None
    }

    /// Sets up broker host `host` of one run with the scenario's broker
    /// options. `notes` writes a broker note into the trace; a broker other
    /// than the reference may ignore it.
    fn host(&self, host: &str, config: &BrokerConfig, notes: Notes) -> HostFactory;

    /// Like [`host`](Self::host), for a broker whose options have a
    /// `bridge`: the host also runs the bridge, which reaches its remote
    /// broker through `link`. `None` (the default): this target does not
    /// run bridges, and a scenario with one fails with a harness error
    /// that says so.
    fn bridged_host(
        &self,
        host: &str,
        config: &BrokerConfig,
        notes: Notes,
        link: Rc<dyn BridgeLink>,
    ) -> Option<HostFactory> {
        let _ = (host, config, notes, link);
        None
    }
}

/// The built-in reference broker ([`crate::broker::Broker`]), target name
/// [`super::TARGET_REFERENCE`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Reference;

impl BrokerUnderTest for Reference {
    fn name(&self) -> &str {
        super::TARGET_REFERENCE
    }

    fn host(&self, _host: &str, config: &BrokerConfig, notes: Notes) -> HostFactory {
        // With persistence the store lives in the factory, so it outlives a
        // crash; without, every start gets a fresh one.
        let durable = config
            .persistence
            .then(|| Rc::new(RefCell::new(Store::default())));
        let config = config.clone();
        Box::new(move |listener| {
            let store = durable.clone().unwrap_or_default();
            let broker = Broker::with_store(config.clone(), notes.clone(), store);
            Box::pin(async move { broker.serve(listener).await })
        })
    }

    fn bridged_host(
        &self,
        _host: &str,
        config: &BrokerConfig,
        notes: Notes,
        link: Rc<dyn BridgeLink>,
    ) -> Option<HostFactory> {
        let durable = config
            .persistence
            .then(|| Rc::new(RefCell::new(Store::default())));
        let config = config.clone();
        Some(Box::new(move |listener| {
            let store = durable.clone().unwrap_or_default();
            let broker = Broker::with_store(config.clone(), notes.clone(), store);
            let link = link.clone();
            Box::pin(async move {
                // The bridge runs for the host's life; serving ends only
                // with an error.
                tokio::select! {
                    biased;
                    served = broker.serve(listener) => served,
                    () = async {
                        broker.bridge(link).await;
                        std::future::pending::<()>().await
                    } => Ok(()),
                }
            })
        }))
    }
}
