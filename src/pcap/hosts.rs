//! Simulated host addresses, the same ones turmoil 0.7.2 hands out.
//!
//! turmoil gives the n-th registered host (counting from 1) the address
//! 192.168.(n >> 8).(n & 0xff), and `sim` registers the brokers first, then
//! the clients, each in scenario order. Each host's ephemeral TCP ports
//! start at 49152 and advance by one per `connect` call, successful or not,
//! wrapping back to 49152 after 65535.

use std::net::Ipv4Addr;

use indexmap::IndexMap;

use crate::scenario::{Protocol, Scenario};

/// The first ephemeral port turmoil assigns.
pub const EPHEMERAL_PORT_FIRST: u16 = 49152;

/// Where a client lives and whom it talks to.
#[derive(Debug, Clone)]
pub struct ClientHost {
    pub addr: Ipv4Addr,
    pub broker_addr: Ipv4Addr,
    /// The protocol the client speaks unless a CONNECT says otherwise.
    pub protocol: Protocol,
}

/// The addresses of one scenario's hosts.
#[derive(Debug, Clone)]
pub struct Hosts {
    /// Every host's name and address, in registration order.
    all: Vec<(String, Ipv4Addr)>,
    clients: IndexMap<String, ClientHost>,
}

impl Hosts {
    /// Addresses every host as turmoil does. A client whose broker is not in
    /// the scenario is left out: its events then cannot be captured.
    pub fn of(scenario: &Scenario) -> Self {
        let mut all = Vec::new();
        let mut brokers = IndexMap::new();
        for (ordinal, name) in scenario.brokers.keys().enumerate() {
            brokers.insert(name.as_str(), host_addr(ordinal));
            all.push((name.clone(), host_addr(ordinal)));
        }
        let mut clients = IndexMap::new();
        for (index, (name, spec)) in scenario.clients.iter().enumerate() {
            all.push((name.clone(), host_addr(scenario.brokers.len() + index)));
            let Some(broker_addr) = brokers.get(spec.broker.as_str()) else {
                continue;
            };
            clients.insert(
                name.clone(),
                ClientHost {
                    addr: host_addr(scenario.brokers.len() + index),
                    broker_addr: *broker_addr,
                    protocol: spec.options.protocol,
                },
            );
        }
        // A bridge's connection (`edge->core`) is a client on its own
        // broker's host, the only one there that dials: its ports start at
        // the first ephemeral port like any client's.
        for (name, spec) in &scenario.brokers {
            let Some(b) = &spec.bridge else { continue };
            let (Some(addr), Some(remote)) =
                (brokers.get(name.as_str()), brokers.get(b.to.as_str()))
            else {
                continue;
            };
            clients.insert(
                b.name.clone(),
                ClientHost {
                    addr: *addr,
                    broker_addr: *remote,
                    protocol: if b.level == crate::wire::LEVEL_V5 {
                        Protocol::V5
                    } else {
                        Protocol::V311
                    },
                },
            );
        }
        Hosts { all, clients }
    }

    /// Every host as an /etc/hosts line ("192.168.0.1 broker"), in
    /// registration order: a legend for the capture, which Wireshark can
    /// also load as its hosts file.
    pub fn legend(&self) -> String {
        self.all
            .iter()
            .map(|(name, addr)| format!("{addr} {name}\n"))
            .collect()
    }

    pub fn client(&self, name: &str) -> Option<&ClientHost> {
        self.clients.get(name)
    }
}

/// The address of the host registered at `ordinal` (0-based).
pub fn host_addr(ordinal: usize) -> Ipv4Addr {
    // turmoil counts from 1 and wraps its counter at u32; past 65,535 hosts
    // the third octet would overflow, and turmoil repeats addresses too.
    let n = (ordinal as u32).wrapping_add(1);
    Ipv4Addr::new(192, 168, (n >> 8) as u8, n as u8)
}

/// The port after `port` in turmoil's ephemeral range.
pub fn next_port(port: u16) -> u16 {
    if port == u16::MAX {
        EPHEMERAL_PORT_FIRST
    } else {
        port + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_follow_turmoil_registration_order() {
        assert_eq!(host_addr(0), Ipv4Addr::new(192, 168, 0, 1));
        assert_eq!(host_addr(1), Ipv4Addr::new(192, 168, 0, 2));
        assert_eq!(host_addr(255), Ipv4Addr::new(192, 168, 1, 0));
    }

    #[test]
    fn ports_wrap_to_the_start_of_the_range() {
        assert_eq!(next_port(EPHEMERAL_PORT_FIRST), 49153);
        assert_eq!(next_port(u16::MAX), EPHEMERAL_PORT_FIRST);
    }
}
