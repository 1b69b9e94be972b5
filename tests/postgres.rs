//! PostgreSQL-only tests: the outbox under concurrent writers. They need a server:
//! `GROUPSCOUT_TEST_PG` names one (an admin URL whose role may create databases, as
//! `.ci/postgres start` prints). Without it they pass with a loud SKIPPED line.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use groupscout::config::Rules;
use groupscout::store::{changes, Store};

fn server() -> Option<String> {
    common::postgres_server("PostgreSQL tests")
}

fn store_on(url: &str) -> Store {
    let data = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data");
    let ctx = groupscout::service::context_in(&data, Rules::default(), chrono_tz::Asia::Shanghai).unwrap();
    Store::open(url, Arc::new(ctx), 24).expect("the store opens")
}

/// Reads the outbox the way every node's indexer does ("seq > last seen") until `stop`,
/// then once more; returns every seq it saw.
fn tail(store: &Store, stop: &AtomicBool) -> BTreeSet<i64> {
    let mut seen = BTreeSet::new();
    let mut last = 0;
    loop {
        let done = stop.load(Ordering::Acquire);
        let batch = store.read(|db| changes::after(db, last, 500)).unwrap();
        for (seq, _) in &batch {
            seen.insert(*seq);
            last = last.max(*seq);
        }
        if batch.is_empty() {
            if done {
                return seen;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

#[test]
fn a_tailer_misses_no_change_while_many_writers_commit_out_of_order() {
    let Some(server) = server() else { return };
    let store = Arc::new(store_on(&groupscout::store::create_postgres_database(&server, "gs_outbox").unwrap()));
    let stop = Arc::new(AtomicBool::new(false));
    let tailer = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || tail(&store, &stop))
    };
    let writers: Vec<_> = (0..16)
        .map(|w| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..60u64 {
                    // Transactions of different lengths, so they end in another order than
                    // they began; each notes a few groups.
                    store
                        .write(|db| -> groupscout::store::DbResult<()> {
                            db.exec("SELECT 1", &[])?;
                            for k in 0..(1 + (w + i) % 3) {
                                db.record_change((w * 1000 + i * 3 + k) as i64);
                            }
                            std::thread::sleep(Duration::from_micros((w * 7919 + i * 104_729) % 3000));
                            Ok(())
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Release);
    let seen = tailer.join().unwrap();
    let all: BTreeSet<i64> =
        store.read(|db| db.rows("SELECT seq FROM changes", &[], |r| r.get::<i64>(0))).unwrap().into_iter().collect();
    assert_eq!(all.len(), 16 * 60 * 2, "every noted group has one row");
    let missed: Vec<_> = all.difference(&seen).collect();
    assert!(
        missed.is_empty(),
        "the tailer passed over {} changes: {:?}",
        missed.len(),
        &missed[..missed.len().min(10)]
    );
}

/// The hazard the outbox lock exists for, shown without it: a transaction that draws a
/// lower seq but commits after a later one is passed over by a "seq > last" tailer.
#[test]
fn without_the_outbox_lock_a_late_commit_is_passed_over() {
    let Some(server) = server() else { return };
    let url = groupscout::store::create_postgres_database(&server, "gs_outbox_naive").unwrap();
    let store = store_on(&url);
    let connect = || postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let (mut a, mut b) = (connect(), connect());
    let mut ta = a.transaction().unwrap();
    ta.execute("INSERT INTO changes (group_id, at) VALUES (1, 0)", &[]).unwrap();
    let mut tb = b.transaction().unwrap();
    tb.execute("INSERT INTO changes (group_id, at) VALUES (2, 0)", &[]).unwrap();
    tb.commit().unwrap();
    let first = store.read(|db| changes::after(db, 0, 100)).unwrap();
    let last = first.iter().map(|(s, _)| *s).max().unwrap();
    ta.commit().unwrap();
    let second = store.read(|db| changes::after(db, last, 100)).unwrap();
    assert_eq!(first.len() + second.len(), 1, "one of two committed changes is never read");

    // The same two writers through the store: the first to note a change still commits
    // its row before the other draws a seq, or after, but never out of order.
    let barrier = Arc::new(Barrier::new(2));
    let store = Arc::new(store);
    let before = store.read(changes::max_seq).unwrap();
    let slow = {
        let (store, barrier) = (store.clone(), barrier.clone());
        std::thread::spawn(move || {
            store
                .write(|db| -> groupscout::store::DbResult<()> {
                    db.record_change(3);
                    barrier.wait();
                    std::thread::sleep(Duration::from_millis(200));
                    Ok(())
                })
                .unwrap()
        })
    };
    barrier.wait();
    store
        .write(|db| -> groupscout::store::DbResult<()> {
            db.record_change(4);
            Ok(())
        })
        .unwrap();
    let mid = store.read(|db| changes::after(db, before, 100)).unwrap();
    slow.join().unwrap();
    let rest = store.read(|db| changes::after(db, mid.iter().map(|(s, _)| *s).max().unwrap_or(before), 100)).unwrap();
    let groups: BTreeSet<i64> = mid.iter().chain(rest.iter()).map(|(_, g)| *g).collect();
    assert_eq!(groups, BTreeSet::from([3, 4]), "both changes reach the tailer");
}
