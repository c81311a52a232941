//! Seeded random and mutated input: the reader never panics, never loops,
//! and whatever it accepts encodes back to the same packet.

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

const SEED: u64 = 0x5eed_1234;
const RANDOM_INPUTS: usize = 3000;
const MUTATED_INPUTS: usize = 6000;

#[derive(Default, Debug)]
struct Tally {
    accepted: usize,
    refused: usize,
}

/// Reads `bytes` to the end or the first error. Each accepted packet must
/// survive encode -> read unchanged: decoding keeps nothing it cannot say.
async fn exercise(bytes: &[u8], level: Option<u8>, tally: &mut Tally) {
    let mut reader = Reader::new(bytes, level);
    // Each packet takes at least two bytes, so this bounds a looping reader.
    for _ in 0..=bytes.len() {
        match reader.read().await {
            Ok(Some(p)) => {
                tally.accepted += 1;
                let again = match encode(&p, LEVEL_V311) {
                    Ok(b) => b,
                    Err(e) => panic!("{p:?} was read but does not encode: {e}"),
                };
                let back_level = match p {
                    Packet::Connect(_) => None,
                    _ => Some(LEVEL_V311),
                };
                let r = read_first(&again, back_level).await;
                assert!(
                    matches!(&r, Ok(Some(q)) if *q == p),
                    "{bytes:02x?} read as {p:?}, which reads back as {r:?}"
                );
            }
            Ok(None) => return,
            Err(_) => {
                tally.refused += 1;
                return;
            }
        }
    }
    panic!("the reader did not finish {bytes:02x?}");
}

#[tokio::test]
async fn random_bytes_never_panic() {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut tally = Tally::default();
    for _ in 0..RANDOM_INPUTS {
        let len = rng.random_range(0..48);
        let mut bytes = vec![0u8; len];
        rng.fill_bytes(&mut bytes);
        // A small remaining length makes it likelier that a body is reached.
        if let Some(b) = bytes.get_mut(1) {
            *b &= 0x3f;
        }
        exercise(&bytes, Some(LEVEL_V311), &mut tally).await;
        if let Some(b) = bytes.first_mut() {
            *b = 0x10 | (*b & 0x0f);
        }
        exercise(&bytes, None, &mut tally).await;
    }
    assert!(tally.refused > RANDOM_INPUTS, "{tally:?}");
}

#[tokio::test]
async fn mutated_valid_packets_never_panic() {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let samples: Vec<(Vec<u8>, Option<u8>)> = sample_packets()
        .iter()
        .map(|p| {
            let level = match p {
                Packet::Connect(_) => None,
                _ => Some(LEVEL_V311),
            };
            (encode_v4(p), level)
        })
        .collect();
    let mut tally = Tally::default();
    for i in 0..MUTATED_INPUTS {
        let (original, level) = &samples[i % samples.len()];
        let mut bytes = original.clone();
        for _ in 0..rng.random_range(1..4) {
            fuzz::mutate(&mut rng, &mut bytes);
        }
        exercise(&bytes, *level, &mut tally).await;
        // Also as the second packet of a stream, behind a valid one.
        let mut stream = encode_v4(&Packet::PingReq);
        stream.extend_from_slice(&bytes);
        exercise(&stream, Some(LEVEL_V311), &mut tally).await;
    }
    // Both outcomes must be common, or the mutations test nothing.
    assert!(tally.accepted > MUTATED_INPUTS / 4, "{tally:?}");
    assert!(tally.refused > MUTATED_INPUTS / 4, "{tally:?}");
}
