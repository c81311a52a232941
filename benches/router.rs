//! The reference broker's routing, in-process: one PUBLISH routed through
//! the routing index (`Broker::route`), side by side with the scan the
//! index replaced, run over the same stored sessions. Run with
//! `cargo bench --bench router`.
//!
//! The scan visits every session and every filter with `topic::matches`,
//! which is what routing did before the index; it only finds the matching
//! subscriptions, while `route` also checks the acl, builds the copies and
//! queues them. The ratio between the two is therefore what the index
//! gains at least.
//!
//! Cases (docs/performance.md quotes them):
//! - `10000x10`: 10,000 offline persistent sessions with 10 filters each
//!   (`dev/<i>/sensor/<k>` and `dev/<i>/cmd/+`); a QoS 1 PUBLISH to
//!   `dev/4242/cmd/reboot` matches one of them.
//! - `100x1000`: 100 sessions with 1,000 filters each, none of which
//!   matches the PUBLISH (the many-filters case of issue 11).

use std::cell::RefCell;
use std::hint::black_box;
use std::rc::Rc;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use mqtt_sim::broker::{
    Broker, BrokerConfig, Notes, Publication, Session, SessionExpiry, Store, Subscription,
};
use mqtt_sim::topic;
use mqtt_sim::wire::{Properties, QoS};

/// A broker over `sessions` stored sessions, each with the filters
/// `filters(i)` gives.
fn broker(sessions: usize, filters: impl Fn(usize) -> Vec<String>) -> (Broker, Rc<RefCell<Store>>) {
    let mut store = Store::new();
    for i in 0..sessions {
        let id = client_id(i);
        store.insert_session(&id, Session::new(SessionExpiry::NEVER));
        for f in filters(i) {
            store.subscribe(&id, &f, Subscription::new(QoS::AtLeastOnce));
        }
    }
    let store = Rc::new(RefCell::new(store));
    let notes: Notes = Rc::new(|_| {});
    let broker = Broker::with_store(BrokerConfig::default(), notes, store.clone());
    (broker, store)
}

fn client_id(i: usize) -> String {
    format!("c{i:05}")
}

fn publication(topic: &str) -> Publication {
    Publication {
        topic: topic.to_string(),
        payload: Bytes::from_static(b"payload"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Properties::default(),
        from: None,
    }
}

/// The routing scan before the index: every session, every filter.
fn scan(store: &Store, topic_name: &str) -> usize {
    store
        .sessions()
        .values()
        .filter(|s| {
            s.subscriptions
                .keys()
                .any(|f| topic::matches(f, topic_name))
        })
        .count()
}

/// `matched`: the one session the PUBLISH matches, if any.
fn bench_case(
    c: &mut Criterion,
    name: &str,
    (broker, store): (&Broker, &Rc<RefCell<Store>>),
    topic_name: &str,
    matched: Option<&str>,
) {
    let want = usize::from(matched.is_some());
    assert_eq!(
        scan(&store.borrow(), topic_name),
        want,
        "{name}: sessions that match"
    );
    let p = publication(topic_name);
    let mut g = c.benchmark_group(format!("router/{name}"));
    g.bench_function("index", |b| {
        b.iter(|| {
            broker.route(black_box(&p));
            // Keep the matched session's queue from filling up.
            if let Some(m) = matched {
                let mut st = store.borrow_mut();
                let queue = st.queue_mut(m).expect("the matched session");
                assert_eq!(queue.len(), 1, "{name}: one copy queued");
                queue.clear();
            }
        });
    });
    g.bench_function("scan", |b| {
        b.iter(|| scan(&store.borrow(), black_box(topic_name)));
    });
    g.finish();
}

fn router(c: &mut Criterion) {
    let (b, store) = broker(10_000, |i| {
        let mut f: Vec<String> = (0..9).map(|k| format!("dev/{i}/sensor/{k}")).collect();
        f.push(format!("dev/{i}/cmd/+"));
        f
    });
    let matched = client_id(4242);
    bench_case(
        c,
        "10000x10",
        (&b, &store),
        "dev/4242/cmd/reboot",
        Some(&matched),
    );
    drop((b, store));
    let (b, store) = broker(100, |i| (0..1_000).map(|k| format!("f/{i}/{k}")).collect());
    bench_case(c, "100x1000", (&b, &store), "other/topic", None);
}

criterion_group!(benches, router);
criterion_main!(benches);
