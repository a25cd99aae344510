//! The shared plugin store and the rollout that follows it, on SQLite and PostgreSQL alike: each "process" here is a
//! registry and a rollout of its own over the same database, as separate machines would be.

use std::sync::Arc;
use std::time::Duration;

use order_host::cli::Cli;
use order_host::plugins::{PluginRuntime, Registry, Slot};
use order_host::rollout::{Rollout, RolloutError, Timing};
use order_host::store::{NewComponent, ProcessRow, ReleaseAction};
use order_host_tests::db::TestDb;
use order_host_tests::{paths, wait};

use crate::both_backends;

const WAIT: Duration = Duration::from_secs(20);

/// A process's plugin side: its own runtime (with `flags`, e.g. other limits) and registry, following `db`.
fn process(db: &TestDb, role: &str, flags: &[&str]) -> Arc<Rollout> {
    let args = ["order-host"].iter().chain(flags).chain(&["worker"]).copied();
    let config = <Cli as clap::Parser>::try_parse_from(args).expect("flags parse").config;
    let runtime = PluginRuntime::new(config.runtime(false)).expect("runtime");
    // On PostgreSQL only the announcement (LISTEN/NOTIFY) can wake a process within a test's time: proven here.
    let timing =
        Timing { poll: Duration::from_millis(100), fallback_poll: Duration::from_hours(1), ..Timing::default() };
    Rollout::new(Arc::clone(&db.store), Registry::new(runtime), role, timing)
}

/// A payment "component" for the store alone: its digest stands for its bytes (nothing loads it).
fn fake_component(digest: &'static str) -> NewComponent<'static> {
    NewComponent { slot: "payment", digest, name: "payment", version: "0.1.0", bytes: digest.as_bytes() }
}

fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(paths::component(name)).expect("component built")
}

fn running(rollout: &Rollout, slot: Slot) -> Option<String> {
    rollout.registry().active(slot).map(|p| p.meta().digest.to_string())
}

async fn runs(rollout: &Rollout, slot: Slot, digest: &str, what: &str) {
    wait::until(WAIT, what, || async { (running(rollout, slot).as_deref() == Some(digest)).then_some(()) }).await;
}

both_backends!(releases_are_history_and_rollback_walks_it, |db: TestDb| async move {
    let store = &db.store;
    assert!(store.rollback_plugin("payment", "p", None).await.unwrap().is_none(), "nothing to roll back to");
    let a = store.publish_plugin(&fake_component("sha256:a"), "a.wasm", "p", None).await.unwrap().expect("a release");
    assert!(store.rollback_plugin("payment", "p", None).await.unwrap().is_none(), "one version: nothing earlier");
    let b = store.publish_plugin(&fake_component("sha256:b"), "upload", "p", None).await.unwrap().expect("b release");
    assert!(b.id > a.id, "release ids are generations");
    assert!(
        store.publish_plugin(&fake_component("sha256:b"), "again", "p", None).await.unwrap().is_none(),
        "b is active"
    );

    // A rollback that expects a release other than the newest changes nothing.
    let stale = store.rollback_plugin("payment", "q", Some(a.id)).await.unwrap_err();
    assert!(stale.to_string().contains(&format!("is {}, not {}", b.id, a.id)), "{stale}");
    let back = store.rollback_plugin("payment", "q", Some(b.id)).await.unwrap().expect("a rollback");
    assert_eq!(
        (back.digest.as_str(), back.action, back.process_id.as_str()),
        ("sha256:a", ReleaseAction::Rollback, "q")
    );
    // Retried with the same expectation (the answer was lost), it does not undo itself.
    assert!(store.rollback_plugin("payment", "q", Some(b.id)).await.is_err(), "a retried rollback is refused");
    let forth = store.rollback_plugin("payment", "q", None).await.unwrap().expect("rolling back a rollback");
    assert_eq!(forth.digest, "sha256:b");

    let active = store.active_plugins().await.unwrap();
    assert_eq!(
        active.iter().map(|r| (r.slot.as_str(), r.digest.as_str())).collect::<Vec<_>>(),
        [("payment", "sha256:b")]
    );
    let history = store.plugin_releases("payment", 10).await.unwrap();
    assert_eq!(
        history.iter().map(|r| r.digest.as_str()).collect::<Vec<_>>(),
        ["sha256:b", "sha256:a", "sha256:b", "sha256:a"],
        "newest first"
    );
    assert_eq!(store.plugin_bytes("payment", "sha256:a").await.unwrap().as_deref(), Some(&b"sha256:a"[..]));
    assert!(store.plugin_bytes("shipping", "sha256:a").await.unwrap().is_none(), "components are per slot");
});

both_backends!(processes_report_and_drop_out, |db: TestDb| async move {
    let store = &db.store;
    let now = chrono::Utc::now();
    let row = |id: &str, seen_at| ProcessRow {
        process_id: id.into(),
        host: "h".into(),
        role: "worker".into(),
        digests: [("payment".to_owned(), "sha256:a".to_owned())].into(),
        refusals: std::collections::BTreeMap::default(),
        started_at: now,
        seen_at,
    };
    store.report_process(&row("old", now - chrono::Duration::seconds(60))).await.unwrap();
    store.report_process(&row("new", now)).await.unwrap();
    let mut again = row("new", now);
    again.digests.insert("payment".into(), "sha256:b".into());
    store.report_process(&again).await.unwrap();
    let live = store.processes(now - chrono::Duration::seconds(30)).await.unwrap();
    assert_eq!(live.len(), 1, "the silent one dropped out: {live:?}");
    assert_eq!(live[0].digests["payment"], "sha256:b", "a report replaces the last one");
    store.forget_process("new").await.unwrap();
    assert!(store.processes(now - chrono::Duration::seconds(30)).await.unwrap().is_empty());
});

both_backends!(a_publish_reaches_every_process_and_survives_restarts, |db: TestDb| async move {
    let (v1, v2) = (paths::digest_of("payment"), paths::digest_of("fixtures/payment-v2"));
    let a = process(&db, "api", &[]);
    let b = process(&db, "worker", &[]);
    let _b_following = b.spawn(None).unwrap();

    a.publish(Slot::Payment, bytes("payment"), "upload", None).await.unwrap();
    assert_eq!(running(&a, Slot::Payment).as_deref(), Some(v1.as_str()), "the publisher runs it before returning");
    runs(&b, Slot::Payment, &v1, "the other process to run v1").await;
    a.publish(Slot::Payment, bytes("fixtures/payment-v2"), "upload", None).await.unwrap();
    runs(&b, Slot::Payment, &v2, "the other process to run v2").await;

    // A one-shot publisher (the CLI) rolls back for everybody without running anything itself.
    let cli = Rollout::publisher(Arc::clone(&db.store), Arc::clone(process(&db, "cli", &[]).registry()));
    let back = cli.rollback(Slot::Payment, None).await.unwrap();
    assert_eq!(back.digest, v1);
    assert!(running(&cli, Slot::Payment).is_none());
    runs(&b, Slot::Payment, &v1, "the rollback to reach the other process").await;

    // A process started afresh (no plugins directory, no memory of the past) runs what the store names, and the
    // history it did not see is still there to roll back through.
    let c = process(&db, "worker", &[]);
    c.sync().await.unwrap();
    assert_eq!(running(&c, Slot::Payment).as_deref(), Some(v1.as_str()));
    assert!(running(&c, Slot::Validation).is_none(), "nothing published for validation");
    c.rollback(Slot::Payment, None).await.unwrap();
    assert_eq!(running(&c, Slot::Payment).as_deref(), Some(v2.as_str()));
    runs(&b, Slot::Payment, &v2, "a rollback made elsewhere").await;
    let err = c.rollback(Slot::Shipping, None).await.unwrap_err();
    assert!(matches!(err, RolloutError::NoEarlierVersion(Slot::Shipping)), "{err:?}");
});

both_backends!(a_refused_component_is_not_published, |db: TestDb| async move {
    let a = process(&db, "api", &[]);
    a.publish(Slot::Payment, bytes("payment"), "upload", None).await.unwrap();
    for bad in ["fixtures/wrong-world", "validation", "fixtures/infinite-loop"] {
        let err = a.publish(Slot::Payment, bytes(bad), bad, None).await.unwrap_err();
        assert!(matches!(err, RolloutError::Refused(_)), "{bad}: {err:?}");
    }
    let releases = db.store.plugin_releases("payment", 10).await.unwrap();
    assert_eq!(releases.len(), 1, "only the good one was released: {releases:?}");
    assert_eq!(releases[0].digest, paths::digest_of("payment"));
});

both_backends!(a_process_that_cannot_load_a_version_keeps_its_own_and_says_so, |db: TestDb| async move {
    let (v1, v2) = (paths::digest_of("payment"), paths::digest_of("fixtures/payment-v2"));
    let v1_size = bytes("payment").len();
    let v2_size = bytes("fixtures/payment-v2").len();
    assert!(v2_size < v1_size, "the test needs v2 smaller than v1");
    let a = process(&db, "api", &[]);
    // B accepts components up to v2's size: v1 is too large for it.
    let limit = v2_size.to_string();
    let b = process(&db, "worker", &["--plugin-max-bytes", &limit]);
    let _b_following = b.spawn(None).unwrap();

    a.publish(Slot::Payment, bytes("fixtures/payment-v2"), "upload", None).await.unwrap();
    runs(&b, Slot::Payment, &v2, "v2 on the strict process").await;
    a.publish(Slot::Payment, bytes("payment"), "upload", None).await.unwrap();
    let refusal = wait::until(WAIT, "the strict process to report its refusal", || async {
        let fleet = a.fleet().await.unwrap();
        fleet.into_iter().find(|p| p.process_id == b.process_id()).and_then(|p| p.refusals.get("payment").cloned())
    })
    .await;
    assert_eq!(refusal.digest, v1);
    assert!(refusal.error.contains("the limit is"), "{}", refusal.error);
    assert_eq!(running(&b, Slot::Payment).as_deref(), Some(v2.as_str()), "it keeps running v2");
    assert_eq!(running(&a, Slot::Payment).as_deref(), Some(v1.as_str()));

    // Rolling back to what it can run clears the refusal.
    a.rollback(Slot::Payment, None).await.unwrap();
    wait::until(WAIT, "the refusal to clear", || async {
        let fleet = a.fleet().await.unwrap();
        fleet.into_iter().find(|p| p.process_id == b.process_id()).filter(|p| p.refusals.is_empty()).map(drop)
    })
    .await;
});

both_backends!(the_plugins_directory_publishes_on_first_start_and_when_a_file_is_dropped_in, |db: TestDb| async move {
    let (v1, v2) = (paths::digest_of("payment"), paths::digest_of("fixtures/payment-v2"));
    let dir = tempfile::tempdir().unwrap();
    order_host_tests::host::publish(dir.path(), Slot::Payment, &paths::component("payment"));

    // The first start of an empty store publishes what the directory holds.
    let a = process(&db, "worker", &[]);
    a.publish_dir(dir.path()).await.unwrap();
    assert_eq!(running(&a, Slot::Payment).as_deref(), Some(v1.as_str()));
    a.publish(Slot::Payment, bytes("fixtures/payment-v2"), "upload", None).await.unwrap();

    // A restart with the old file still there keeps the upload.
    let b = process(&db, "worker", &[]);
    b.publish_dir(dir.path()).await.unwrap();
    b.sync().await.unwrap();
    assert_eq!(running(&b, Slot::Payment).as_deref(), Some(v2.as_str()), "a restart never undoes an upload");
    assert_eq!(db.store.plugin_releases("payment", 10).await.unwrap().len(), 2);

    // A file dropped in while a process runs is published, for every process.
    let _b_following = b.spawn(Some(dir.path())).unwrap();
    let _a_following = a.spawn(None).unwrap();
    order_host_tests::host::publish(dir.path(), Slot::Payment, &paths::component("payment"));
    runs(&a, Slot::Payment, &v1, "the dropped-in file to reach the other process").await;
    let newest = db.store.plugin_releases("payment", 1).await.unwrap().remove(0);
    assert_eq!((newest.digest.as_str(), newest.process_id.as_str()), (v1.as_str(), b.process_id()));
});

both_backends!(a_canary_leaves_the_stable_version_until_promoted_or_rolled_back, |db: TestDb| async move {
    let store = &db.store;
    store.publish_plugin(&fake_component("sha256:a"), "a", "p", None).await.unwrap();
    let canary = store.publish_plugin(&fake_component("sha256:b"), "b", "p", Some(25)).await.unwrap().unwrap();
    assert_eq!((canary.action, canary.canary_percent), (ReleaseAction::Canary, Some(25)));
    let stable = |rows: Vec<order_host::store::ReleaseRow>| rows.into_iter().map(|r| r.digest).collect::<Vec<_>>();
    assert_eq!(stable(store.active_plugins().await.unwrap()), ["sha256:a"], "the stable version stays");
    assert_eq!(stable(store.live_canaries().await.unwrap()), ["sha256:b"]);

    let promoted = store.promote_plugin("payment", "p").await.unwrap().expect("a promotion");
    assert_eq!((promoted.digest.as_str(), promoted.action), ("sha256:b", ReleaseAction::Publish));
    assert_eq!(stable(store.active_plugins().await.unwrap()), ["sha256:b"]);
    assert!(store.live_canaries().await.unwrap().is_empty());
    assert!(store.promote_plugin("payment", "p").await.unwrap().is_none(), "nothing left to promote");

    // A canary rolled back ends; the stable version (b) is released again, whatever the canary's digest.
    store.publish_plugin(&fake_component("sha256:a"), "a again", "p", Some(50)).await.unwrap().unwrap();
    let ended = store.rollback_plugin("payment", "p", None).await.unwrap().expect("the canary ends");
    assert_eq!((ended.digest.as_str(), ended.action), ("sha256:b", ReleaseAction::Rollback));
    assert!(store.live_canaries().await.unwrap().is_empty());

    // Pins: the first one stays.
    store.pin_order_plugin("o-1", "payment", 7, "sha256:x").await.unwrap();
    store.pin_order_plugin("o-1", "payment", 9, "sha256:y").await.unwrap();
    assert_eq!(store.order_plugin_pin("o-1", "payment").await.unwrap(), Some((7, "sha256:x".to_owned())));
    assert_eq!(store.order_plugin_pin("o-1", "shipping").await.unwrap(), None);
});

both_backends!(a_canary_takes_its_share_of_new_orders_for_their_whole_life, |db: TestDb| async move {
    let (v1, v2) = (paths::digest_of("payment"), paths::digest_of("fixtures/payment-v2"));
    let a = process(&db, "worker", &[]);
    a.publish(Slot::Payment, bytes("payment"), "upload", None).await.unwrap();
    let refused = a.publish(Slot::Payment, bytes("fixtures/payment-v2"), "upload", Some(100)).await.unwrap_err();
    assert!(matches!(refused, RolloutError::CanaryPercent(100)), "{refused:?}");
    let ids: Vec<String> = (0..40).map(|i| format!("canary-order-{i}")).collect();
    let (inside, outside): (Vec<&String>, Vec<&String>) =
        ids.iter().partition(|id| order_host::rollout::canary_bucket(id) < 30);
    assert!(!inside.is_empty() && !outside.is_empty(), "the ids span both sides of 30 %");
    let before = "canary-order-before";
    a.pin_new_order(before).await.unwrap();

    a.publish(Slot::Payment, bytes("fixtures/payment-v2"), "upload", Some(30)).await.unwrap();
    assert_eq!(running(&a, Slot::Payment).as_deref(), Some(v1.as_str()), "stable stays v1");
    for id in &ids {
        a.pin_new_order(id).await.unwrap();
    }
    let runs_on = |id: &str| {
        let a = Arc::clone(&a);
        let id = id.to_owned();
        async move { a.plugin_for(&id, Slot::Payment).await.unwrap().unwrap().meta().digest.to_string() }
    };
    for id in &inside {
        assert_eq!(runs_on(id).await, v2, "{id} is in the canary's share");
    }
    for id in &outside {
        assert_eq!(runs_on(id).await, v1, "{id} is not");
    }
    assert_eq!(runs_on(before).await, v1, "an order received before the canary keeps the stable version");

    // Another process agrees (the pins are in the store), and a retried pin changes nothing.
    let b = process(&db, "worker", &[]);
    b.sync().await.unwrap();
    b.pin_new_order(outside[0]).await.unwrap();
    assert_eq!(b.plugin_for(inside[0], Slot::Payment).await.unwrap().unwrap().meta().digest.to_string(), v2);
    assert_eq!(b.plugin_for(outside[0], Slot::Payment).await.unwrap().unwrap().meta().digest.to_string(), v1);

    // Promoted: every order runs v2. Rolled back: the canary is over, every order runs the stable version.
    a.promote(Slot::Payment).await.unwrap();
    assert_eq!(runs_on(outside[0]).await, v2);
    a.publish(Slot::Payment, bytes("payment"), "upload", Some(30)).await.unwrap();
    a.rollback(Slot::Payment, None).await.unwrap();
    assert_eq!(runs_on(inside[0]).await, v2, "the canary ended; v2 is stable");
    let err = a.promote(Slot::Payment).await.unwrap_err();
    assert!(matches!(err, RolloutError::NoCanary(Slot::Payment)), "{err:?}");
});
