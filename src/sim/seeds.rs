//! Every random choice of a run comes from the scenario seed. Each consumer
//! gets its own ChaCha8 stream, keyed by a fixed number, so that a consumer
//! drawing more or less never shifts what another one draws.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

const STREAM_TURMOIL: u64 = 0;
const STREAM_FAULTS: u64 = 1;
/// Per-message latency draws for links whose latency is a range.
const STREAM_NETWORK: u64 = 2;
/// Chaos generator `k` draws from stream `STREAM_CHAOS + k`, so that turning
/// one generator on or off never changes what another one generates.
const STREAM_CHAOS: u64 = 1 << 16;
/// The bridge of broker `i` (in file order) draws its reconnect delays
/// from stream `STREAM_BRIDGES + i`.
const STREAM_BRIDGES: u64 = 1 << 24;
/// Client `i` (in file order) draws from stream `STREAM_CLIENTS + i`.
const STREAM_CLIENTS: u64 = 1 << 32;

pub struct Seeds {
    seed: u64,
}

impl Seeds {
    pub fn new(seed: u64) -> Self {
        Seeds { seed }
    }

    fn stream(&self, stream: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(stream);
        rng
    }

    /// The seed turmoil's own generator (message latency) starts from.
    pub fn turmoil(&self) -> u64 {
        self.stream(STREAM_TURMOIL).next_u64()
    }

    pub fn faults(&self) -> ChaCha8Rng {
        self.stream(STREAM_FAULTS)
    }

    pub fn network(&self) -> ChaCha8Rng {
        self.stream(STREAM_NETWORK)
    }

    pub fn chaos(&self, generator: u64) -> ChaCha8Rng {
        self.stream(STREAM_CHAOS + generator)
    }

    pub fn bridge(&self, broker_index: usize) -> ChaCha8Rng {
        self.stream(STREAM_BRIDGES + broker_index as u64)
    }

    pub fn client(&self, index: usize) -> ChaCha8Rng {
        self.stream(STREAM_CLIENTS + index as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_and_repeat() {
        let s = Seeds::new(7);
        assert_eq!(s.client(0).next_u64(), Seeds::new(7).client(0).next_u64());
        assert_ne!(s.client(0).next_u64(), s.client(1).next_u64());
        assert_ne!(s.turmoil(), Seeds::new(8).turmoil());
    }
}
