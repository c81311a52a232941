//! Link latency for the turmoil 0.7 engine (`tick.rs`), drawn uniformly
//! from the seed.
//!
//! turmoil draws a message's delay between a link's min and max from an
//! exponential curve, in whole milliseconds; the scenario format promises a
//! uniform draw. So every link the driver manages gets min = max in turmoil,
//! and before each simulation step the driver draws a fresh value for every
//! link whose latency is a range. Messages sent on one link within one tick
//! share that tick's draw; the delay takes effect at the next tick boundary,
//! so the tick is the resolution.

use std::net::IpAddr;
use std::time::Duration;

use rand_chacha::ChaCha8Rng;

use mqtt_sim::scenario::{DurationSpec, Scenario};

struct Link {
    a: String,
    b: String,
    ip_a: IpAddr,
    ip_b: IpAddr,
    spec: DurationSpec,
    /// A fixed latency that turmoil does not have yet.
    stale: bool,
}

/// The latency of every client-broker link, plus any link named in
/// `network.links`.
pub struct Links {
    links: Vec<Link>,
    rng: ChaCha8Rng,
}

impl Links {
    /// The links in a fixed order: each client with each broker in file
    /// order, then the extra pairs named by `network.links`.
    pub fn new(sim: &turmoil::Sim<'_>, scenario: &Scenario, rng: ChaCha8Rng) -> Links {
        let mut links: Vec<Link> = Vec::new();
        let mut add = |a: &str, b: &str| {
            if a == b || links.iter().any(|l| same(l, a, b)) {
                return;
            }
            links.push(Link {
                a: a.to_string(),
                b: b.to_string(),
                ip_a: sim.lookup(a),
                ip_b: sim.lookup(b),
                spec: scenario.network.latency,
                stale: true,
            });
        };
        for client in scenario.clients.keys() {
            for broker in scenario.brokers.keys() {
                add(client, broker);
            }
        }
        for l in &scenario.network.links {
            add(&l.between.0, &l.between.1);
        }
        let mut out = Links { links, rng };
        for l in &scenario.network.links {
            out.set(&l.between.0, &l.between.1, l.latency);
        }
        out
    }

    /// Changes a link's latency from the next message on.
    pub fn set(&mut self, a: &str, b: &str, spec: DurationSpec) {
        if let Some(l) = self.links.iter_mut().find(|l| same(l, a, b)) {
            l.spec = spec;
            l.stale = true;
        }
    }

    /// Gives turmoil this tick's latency for every link that needs one.
    pub fn before_step(&mut self, sim: &turmoil::Sim<'_>) {
        for l in &mut self.links {
            let value: Duration = match l.spec {
                DurationSpec::Fixed(d) if l.stale => d,
                DurationSpec::Fixed(_) => continue,
                range @ DurationSpec::Range(..) => range.draw(&mut self.rng),
            };
            sim.set_link_latency(l.ip_a, l.ip_b, value);
            l.stale = false;
        }
    }
}

fn same(l: &Link, a: &str, b: &str) -> bool {
    (l.a == a && l.b == b) || (l.a == b && l.b == a)
}
