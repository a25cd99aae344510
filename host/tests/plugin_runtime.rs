//! The plugin runtime against real components: the default plugins' behaviour, every limit obeyed and violated,
//! hostile fixtures contained, bad components refused, the compiled-artifact cache.

mod common;

use std::time::Duration;

use common::{component, runtime, runtime_with, sample_order, test_limits};
use order_host::plugins::{
    Limits, LoadError, MemoryReset, PluginError, PluginRuntime, RuntimeConfig, Slot, SlotLimits, wit,
};

fn load(slot: Slot, name: &str) -> order_host::plugins::LoadedPlugin {
    runtime().load(slot, &component(name), name).unwrap_or_else(|e| panic!("{name} should load: {e}"))
}

/// A plugin call that must still work: proves the runtime kept serving after whatever came before.
fn assert_still_serving(rt: &std::sync::Arc<PluginRuntime>) {
    let validation = rt.load(Slot::Validation, &component("validation"), "validation").unwrap();
    let validated = validation.validate(&sample_order("after")).unwrap();
    assert_eq!(validated.total_cents, 4200);
}

// ---- the default plugins through the runtime ----

#[test]
fn validation_accepts_a_good_order_with_its_total() {
    let plugin = load(Slot::Validation, "validation");
    assert_eq!((plugin.meta().name.as_str(), plugin.meta().version.as_str()), ("validation", "0.1.0"));
    let validated = plugin.validate(&sample_order("order-1")).unwrap();
    assert_eq!(validated.total_cents, 4200);
    assert_eq!(validated.order.address.state, "IL", "state code normalised");
}

#[test]
fn validation_lists_every_problem_as_a_permanent_error() {
    let plugin = load(Slot::Validation, "validation");
    let mut order = sample_order("order-bad");
    order.items[0].sku = "bad sku".into();
    order.items[1].quantity = 0;
    order.address.state = "XX".into();
    order.address.zip_code = "9".into();
    let err = plugin.validate(&order).unwrap_err();
    let PluginError::Permanent { code, message } = &err else { panic!("expected permanent, got {err:?}") };
    assert_eq!(code, "invalid_order");
    assert!(message.starts_with("order is invalid (4 problems)"), "{message}");
    for part in ["items[0].sku", "items[1].quantity", "address.state", "address.zip_code"] {
        assert!(message.contains(part), "{part} missing from {message}");
    }
    assert!(!err.is_retryable());
}

#[test]
fn payment_is_idempotent_by_payment_id_and_declines_over_the_limit() {
    let plugin = load(Slot::Payment, "payment");
    let request = |payment_id: &str, amount_cents| wit::ChargeRequest {
        payment_id: payment_id.into(),
        order_id: "order-1".into(),
        amount_cents,
        attempt: 1,
    };
    let first = plugin.charge(&request("payment-456", 4200)).unwrap();
    let again = plugin.charge(&wit::ChargeRequest { attempt: 3, ..request("payment-456", 4200) }).unwrap();
    let other = plugin.charge(&request("payment-457", 4200)).unwrap();
    assert_eq!(first, again, "same payment id, same receipt");
    assert_ne!(first.transaction_id, other.transaction_id);
    assert!(first.transaction_id.starts_with("txn-"));

    let declined = plugin.charge(&request("payment-big", 1_000_001)).unwrap_err();
    assert!(matches!(&declined, PluginError::Permanent { code, .. } if code == "amount_over_limit"), "{declined:?}");
    assert!(plugin.charge(&request("payment-max", 1_000_000)).is_ok(), "the limit itself is allowed");

    let refund = plugin
        .refund(&wit::RefundRequest {
            payment_id: "payment-456".into(),
            transaction_id: first.transaction_id.clone(),
            amount_cents: 4200,
            reason: "cancelled".into(),
        })
        .unwrap();
    assert_eq!(refund.amount_cents, 4200);
    assert!(refund.refund_id.starts_with("rfd-"));
}

#[test]
fn shipping_packs_by_weight_and_dispatches_by_region() {
    let plugin = load(Slot::Shipping, "shipping");
    let order = wit::Order { shipment: 1, ..sample_order("order-1") };
    let package = plugin.prepare_package(&order).unwrap();
    assert_eq!(package.package_id, "pkg-order-1-1");
    assert_eq!(package.units, 3);
    assert!(package.weight_grams > 150, "{package:?}");
    let dispatch = plugin.dispatch_carrier(&order, &package).unwrap();
    assert_eq!(dispatch.carrier, "UPS", "ZIP 6xxxx is the central region");
    let again = plugin.dispatch_carrier(&wit::Order { attempt: 2, ..order.clone() }, &package).unwrap();
    assert_eq!(dispatch.tracking, again.tracking, "retrying a dispatch keeps the tracking number");
    let second = plugin.dispatch_carrier(&wit::Order { shipment: 2, ..order.clone() }, &package).unwrap();
    assert_ne!(dispatch.tracking, second.tracking, "a new shipment gets a new tracking number");

    let mut nowhere = order;
    nowhere.address.zip_code = "00012".into();
    let err = plugin.dispatch_carrier(&nowhere, &package).unwrap_err();
    assert!(matches!(&err, PluginError::Permanent { code, .. } if code == "address_undeliverable"), "{err:?}");
}

// ---- limits, each obeyed and violated ----

#[test]
fn memory_limit_obeyed() {
    // The default validator fits in 2 MiB; its instance must not be refused.
    let rt = runtime_with(Limits { memory_bytes: 2 << 20, ..test_limits() });
    let plugin = rt.load(Slot::Validation, &component("validation"), "validation").unwrap();
    for i in 0..100 {
        assert_eq!(plugin.validate(&sample_order(&format!("o-{i}"))).unwrap().total_cents, 4200);
    }
}

#[test]
fn memory_limit_violated() {
    let rt = runtime();
    let plugin = rt.load(Slot::Validation, &component("fixtures/memory-bomb"), "memory-bomb").unwrap();
    let err = plugin.validate(&sample_order("bomb")).unwrap_err();
    let PluginError::MemoryLimit { limit_bytes, requested_bytes } = err else {
        panic!("expected memory limit, got {err:?}")
    };
    assert_eq!(limit_bytes, 16 << 20);
    assert!(requested_bytes > limit_bytes);
    assert!(err.is_retryable());
    assert_still_serving(&rt);
}

#[test]
fn deadline_obeyed() {
    let rt = runtime_with(Limits { deadline: Duration::from_secs(2), ..test_limits() });
    let plugin = rt.load(Slot::Validation, &component("fixtures/slow"), "slow").unwrap();
    let mut order = sample_order("slow");
    order.items[0].quantity = 50; // 50 ms of work, far below the deadline
    assert!(plugin.validate(&order).is_ok());
}

#[test]
fn deadline_violated() {
    let rt = runtime();
    let plugin = rt.load(Slot::Validation, &component("fixtures/slow"), "slow").unwrap();
    let mut order = sample_order("slow");
    order.items[0].quantity = 1000; // one second of work, five times the deadline
    // Left alone the fixture would return Ok after a second: a timeout proves the deadline cut it off.
    let err = plugin.validate(&order).unwrap_err();
    assert_eq!(err, PluginError::Timeout { deadline: Duration::from_millis(200) });
    assert!(err.is_retryable());
}

// ---- hostile fixtures are contained and the runtime keeps serving ----

#[test]
fn infinite_loop_is_interrupted() {
    let rt = runtime();
    let plugin = rt.load(Slot::Validation, &component("fixtures/infinite-loop"), "loop").unwrap();
    let err = plugin.validate(&sample_order("loop")).unwrap_err();
    assert!(matches!(err, PluginError::Timeout { .. }), "{err:?}");
    assert_still_serving(&rt);
}

#[test]
fn panic_is_a_trap() {
    let rt = runtime();
    let plugin = rt.load(Slot::Validation, &component("fixtures/panic"), "panic").unwrap();
    let err = plugin.validate(&sample_order("panic")).unwrap_err();
    let PluginError::Trap(message) = &err else { panic!("expected trap, got {err:?}") };
    assert!(message.contains("unreachable"), "{message}");
    assert!(err.is_retryable());
    assert_still_serving(&rt);
}

#[test]
fn files_and_network_are_linked_but_grant_nothing() {
    // The probe uses std::fs and std::net, so it imports wasi:filesystem and wasi:sockets, as every toolchain's
    // default output does: it loads, and at run time there is no directory to open and no address to reach.
    // It also sends an HTTP request through wasi:http/outgoing-handler, as a jco `fetch` would. Both the connection
    // and the request go to a listener of this test's, which must see nothing.
    let plugin = load(Slot::Validation, "fixtures/sandbox-probe");
    let imports = &plugin.meta().imports;
    for interface in ["wasi:filesystem/preopens", "wasi:sockets/tcp", "wasi:http/outgoing-handler"] {
        assert!(imports.iter().any(|i| i.starts_with(interface)), "{interface} not among {imports:?}");
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let mut order = sample_order("probe");
    order.address.street = listener.local_addr().unwrap().to_string();
    let err = plugin.validate(&order).unwrap_err();
    let PluginError::Permanent { message, .. } = err else { panic!("expected the probe's report, got {err:?}") };
    assert_eq!(
        message,
        "file=denied dir=denied write=denied env=0 args=0 tcp=denied dns=denied http=denied(ErrorCode::HttpRequestDenied)"
    );
    let nothing = listener.accept().map(|(_, peer)| peer);
    assert!(
        matches!(&nothing, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the guest reached the listener: {nothing:?}"
    );
}

#[test]
fn nothing_a_call_leaves_behind_reaches_the_next_call() {
    // Every call is a fresh instance, and the pool's reset of the memory it reuses restores the image exactly: the
    // state keeper counts calls in a static and dirties 64 separate pages of a non-zero static image each time.
    // Under either reset strategy, on one instance slot (calls in sequence reuse it) and on several at once.
    for reset in [MemoryReset::WrittenPages, MemoryReset::Prefix] {
        let rt = PluginRuntime::new(RuntimeConfig {
            limits: SlotLimits::uniform(test_limits()),
            max_instances: 32,
            memory_reset: reset,
            ..RuntimeConfig::default()
        })
        .unwrap();
        assert_eq!(rt.memory_reset(), reset.effective().0);
        eprintln!("{reset:?} asked, {:?} in effect", rt.memory_reset());
        let plugin = rt.load(Slot::Validation, &component("fixtures/state-keeper"), "state-keeper").unwrap();
        let report = |plugin: &order_host::plugins::LoadedPlugin| {
            let err = plugin.validate(&sample_order("state")).unwrap_err();
            let PluginError::Permanent { message, .. } = err else { panic!("{reset:?}: {err:?}") };
            message
        };
        for call in 0..20 {
            assert_eq!(report(&plugin), "calls=1 changed=0", "{reset:?}, call {call}");
        }
        std::thread::scope(|s| {
            let calls: Vec<_> =
                (0..4).map(|_| s.spawn(|| (0..10).map(|_| report(&plugin)).collect::<Vec<_>>())).collect();
            for call in calls {
                for message in call.join().unwrap() {
                    assert_eq!(message, "calls=1 changed=0", "{reset:?}, concurrent");
                }
            }
        });
    }
}

#[test]
fn environment_arguments_and_output_are_empty() {
    let plugin = load(Slot::Validation, "fixtures/env-probe");
    let err = plugin.validate(&sample_order("probe")).unwrap_err();
    let PluginError::Permanent { message, .. } = err else { panic!("expected the probe's report, got {err:?}") };
    assert_eq!(message, "env=0 args=0 stdout=accepted clock=true random=true");
}

#[test]
fn trial_call_refuses_components_that_trap_hang_or_hoard() {
    let rt = runtime();
    for (name, expected) in [
        ("fixtures/infinite-loop", "plugin_timeout"),
        ("fixtures/memory-bomb", "plugin_memory_limit"),
        ("fixtures/panic", "plugin_trap"),
    ] {
        let plugin = rt.load(Slot::Validation, &component(name), name).expect("loads: its exports type-check");
        let err = rt.vet(&plugin).unwrap_err();
        let LoadError::Trial(cause) = &err else { panic!("{name}: {err:?}") };
        assert_eq!(cause.code(), expected, "{name}");
    }
    for name in ["validation", "fixtures/flaky", "fixtures/slow", "fixtures/log-flood", "fixtures/env-probe"] {
        let plugin = rt.load(Slot::Validation, &component(name), name).unwrap();
        rt.vet(&plugin).unwrap_or_else(|e| panic!("{name} answers its trial call: {e}"));
    }
    for (slot, name) in [
        (Slot::Payment, "payment"),
        (Slot::Payment, "fixtures/payment-v2"),
        (Slot::Shipping, "shipping"),
        (Slot::Shipping, "fixtures/dispatch-fails"),
    ] {
        let plugin = rt.load(slot, &component(name), name).unwrap();
        rt.vet(&plugin).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn a_guest_sleeping_in_wasi_is_cut_off_at_its_deadline() {
    // Before: `std::thread::sleep(5 s)` waited in the host's `wasi:io/poll`, where no epoch check runs, and the call
    // took the full 5 s against a 200 ms deadline, holding a thread and a pooled instance.
    let rt = runtime();
    let sleeper = rt.load(Slot::Validation, &component("fixtures/sleeper"), "sleeper").expect("type-checks");
    let err = sleeper.validate(&sample_order("o-sleep")).unwrap_err();
    assert!(matches!(err, PluginError::Timeout { .. }), "{err:?}");
    assert!(err.is_retryable());
    let err = rt.vet(&sleeper).unwrap_err();
    assert!(matches!(&err, LoadError::Trial(PluginError::Timeout { .. })), "{err:?}");

    // One that sleeps except on orders that look like the old fixed trial call (`trial-order`): the trial call now
    // looks like any order, so it is refused at load; and the deadline holds at run time, every time.
    let late = rt.load(Slot::Shipping, &component("fixtures/late-sleeper"), "late-sleeper").expect("type-checks");
    let err = rt.vet(&late).unwrap_err();
    assert!(matches!(&err, LoadError::Trial(PluginError::Timeout { .. })), "{err:?}");
    for n in 0..3 {
        let err = late.prepare_package(&sample_order(&format!("o-late-{n}"))).unwrap_err();
        assert!(matches!(err, PluginError::Timeout { .. }), "{err:?}");
    }
    assert_still_serving(&rt);
}

#[test]
fn oversized_answers_are_refused_before_they_go_anywhere() {
    let rt = runtime();
    // A 1 MiB transaction id: the trial call refuses the component; a direct call is a permanent error.
    let plugin = rt.load(Slot::Payment, &component("fixtures/oversized-receipt"), "big").expect("type-checks");
    let err = rt.vet(&plugin).unwrap_err();
    let LoadError::Trial(cause) = &err else { panic!("{err:?}") };
    assert_eq!(cause.code(), "output_too_large", "{err}");
    let request = wit::ChargeRequest { payment_id: "p".into(), order_id: "o".into(), amount_cents: 1, attempt: 1 };
    let err = plugin.charge(&request).unwrap_err();
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("at most 65536 are accepted (PLUGIN_MAX_OUTPUT)"), "{err}");
    assert!(err.to_string().len() < 200, "the answer itself is not carried along");

    // A 1 MiB `info()` name: refused at load, never shown or stored.
    let err = rt.load(Slot::Validation, &component("fixtures/huge-info"), "huge-info").unwrap_err();
    assert!(matches!(&err, LoadError::Info(e) if e.code() == "output_too_large"), "{err:?}");

    // The cap is a setting.
    let roomy = runtime_with(Limits { max_output: 4 << 20, ..test_limits() });
    let plugin = roomy.load(Slot::Payment, &component("fixtures/oversized-receipt"), "big").unwrap();
    assert_eq!(plugin.charge(&request).unwrap().transaction_id.len(), 1 << 20);
    assert_still_serving(&rt);
}

#[test]
fn plugin_files_are_judged_before_they_are_read() {
    use order_host::plugins::read_component;
    let dir = tempfile::tempdir().unwrap();
    let limit = 16 << 20;
    // A 1 GiB sparse file is refused by its size alone.
    let huge = dir.path().join("huge.wasm");
    std::fs::File::create(&huge).unwrap().set_len(1 << 30).unwrap();
    assert!(matches!(read_component(&huge, limit), Err(LoadError::TooLarge { size, .. }) if size == 1 << 30));
    // A symbolic link is not followed, whatever it points to.
    let real = dir.path().join("real.wasm");
    std::fs::write(&real, component("validation")).unwrap();
    let link = dir.path().join("validation.wasm");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let err = read_component(&link, limit).unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_eq!(read_component(&real, limit).unwrap().map(|b| b.len()), Some(component("validation").len()));
    assert!(read_component(&dir.path().join("missing.wasm"), limit).unwrap().is_none());
    // A FIFO is refused without waiting for a writer that never comes.
    let fifo = dir.path().join("shipping.wasm");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    #[allow(unsafe_code)]
    // SAFETY: a valid NUL-terminated path and a mode; mkfifo touches nothing else.
    let made = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
    assert_eq!(made, 0);
    let err = read_component(&fifo, limit).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

/// Counts the log lines plugins forward (target `plugin`).
struct PluginLines(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for PluginLines {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() == "plugin" {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

#[test]
fn log_flood_is_capped() {
    use tracing_subscriber::layer::SubscriberExt;

    let rt = runtime();
    let plugin = rt.load(Slot::Validation, &component("fixtures/log-flood"), "log-flood").unwrap();
    let lines = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let subscriber = tracing_subscriber::registry().with(PluginLines(std::sync::Arc::clone(&lines)));
    // A million log calls either finish (the host drops all but the first lines cheaply) or hit the deadline;
    // neither may take the host down, and only the capped number of lines may reach the log.
    let outcome = tracing::subscriber::with_default(subscriber, || plugin.validate(&sample_order("flood")));
    match outcome {
        Ok(v) => assert_eq!(v.total_cents, 4200),
        Err(e) => assert!(matches!(e, PluginError::Timeout { .. }), "{e:?}"),
    }
    assert_eq!(lines.load(std::sync::atomic::Ordering::Relaxed), test_limits().log_lines as usize);
    assert_still_serving(&rt);
}

#[test]
fn pool_slots_are_reclaimed_after_traps() {
    let rt = runtime();
    let bomb = rt.load(Slot::Validation, &component("fixtures/memory-bomb"), "bomb").unwrap();
    let panic = rt.load(Slot::Validation, &component("fixtures/panic"), "panic").unwrap();
    // More failing rounds than the pool has slots: a leaked slot would turn into `Busy`.
    for _ in 0..40 {
        assert!(matches!(bomb.validate(&sample_order("b")), Err(PluginError::MemoryLimit { .. })));
        assert!(matches!(panic.validate(&sample_order("p")), Err(PluginError::Trap(_))));
    }
    assert_still_serving(&rt);
}

#[test]
fn flaky_fixture_fails_retryably_then_passes() {
    let plugin = load(Slot::Validation, "fixtures/flaky");
    for attempt in 1..=2 {
        let err = plugin.validate(&wit::Order { attempt, ..sample_order("f") }).unwrap_err();
        assert!(matches!(&err, PluginError::Retryable { code, .. } if code == "flaky"), "{err:?}");
        assert!(err.is_retryable());
    }
    assert!(plugin.validate(&wit::Order { attempt: 3, ..sample_order("f") }).is_ok());
}

// ---- bad components are refused with a reason ----

fn refusal(slot: Slot, bytes: &[u8]) -> LoadError {
    runtime().load(slot, bytes, "test").expect_err("must be refused")
}

#[test]
fn wrong_world_is_refused() {
    let err = refusal(Slot::Payment, &component("fixtures/wrong-world"));
    let LoadError::WrongWorld { world, reason, .. } = &err else { panic!("{err:?}") };
    assert_eq!(*world, "payment-processor");
    assert!(reason.contains("type-checking export func"), "{reason}");

    // A valid component of another slot's world is refused too.
    let err = refusal(Slot::Payment, &component("validation"));
    assert!(matches!(&err, LoadError::WrongWorld { reason, .. } if reason.contains("charge")), "{err}");
    let err = refusal(Slot::Validation, &component("shipping"));
    assert!(matches!(&err, LoadError::WrongWorld { reason, .. } if reason.contains("validate")), "{err}");
}

#[test]
fn unknown_import_is_refused_at_load() {
    let err = refusal(Slot::Validation, &component("fixtures/unknown-import"));
    let LoadError::Imports(reason) = &err else { panic!("{err:?}") };
    assert!(reason.contains("fixture:evil/secrets"), "{reason}");
}

#[test]
fn garbage_truncated_and_core_modules_are_refused() {
    assert_eq!(refusal(Slot::Validation, b""), LoadError::NotWasm);
    assert_eq!(refusal(Slot::Validation, b"this is not wasm at all"), LoadError::NotWasm);
    assert_eq!(refusal(Slot::Validation, b"\0asm\x01\0\0\0"), LoadError::CoreModule);

    let full = component("validation");
    let err = refusal(Slot::Validation, &full[..full.len() / 2]);
    assert!(matches!(&err, LoadError::Invalid(reason) if !reason.is_empty()), "{err:?}");

    let mut flipped = full.clone();
    flipped[20..40].fill(0xff);
    assert!(matches!(refusal(Slot::Validation, &flipped), LoadError::Invalid(_)));
}

#[test]
fn oversized_components_are_refused_before_decoding() {
    let rt = PluginRuntime::new(RuntimeConfig { max_component_bytes: 1024, ..RuntimeConfig::default() }).unwrap();
    let err = rt.load(Slot::Validation, &component("validation"), "big").unwrap_err();
    assert!(matches!(err, LoadError::TooLarge { limit: 1024, .. }), "{err:?}");
}

// ---- compiled-artifact cache ----

#[test]
fn artifact_cache_is_reused_and_corruption_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let config = RuntimeConfig {
        limits: SlotLimits::uniform(test_limits()),
        cache_dir: Some(dir.path().join("cache")),
        ..RuntimeConfig::default()
    };
    let bytes = component("validation");

    let first = PluginRuntime::new(config.clone()).unwrap();
    assert!(!first.load(Slot::Validation, &bytes, "v").unwrap().meta().from_cache, "nothing cached yet");
    let artifacts: Vec<_> = std::fs::read_dir(dir.path().join("cache"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .collect();
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    let artifact = &artifacts[0];
    assert!(artifact.file_name().unwrap().to_str().unwrap().starts_with(order_host::plugins::Digest::of(&bytes).hex()));

    // A second runtime (as after a restart) loads from the cache.
    let second = PluginRuntime::new(config.clone()).unwrap();
    let plugin = second.load(Slot::Validation, &bytes, "v").unwrap();
    assert!(plugin.meta().from_cache);
    assert_eq!(plugin.validate(&sample_order("c")).unwrap().total_cents, 4200);

    // Flip a byte of the compiled code: the integrity check must catch it and recompile.
    let mut data = std::fs::read(artifact).unwrap();
    let at = data.len() / 2;
    data[at] ^= 0x55;
    std::fs::write(artifact, &data).unwrap();
    let third = PluginRuntime::new(config.clone()).unwrap();
    let plugin = third.load(Slot::Validation, &bytes, "v").unwrap();
    assert!(!plugin.meta().from_cache, "a corrupt artifact must not be used");
    assert_eq!(plugin.validate(&sample_order("c")).unwrap().total_cents, 4200);
    assert_ne!(std::fs::read(artifact).unwrap(), data, "the corrupt artifact was replaced");

    // Tampered with by someone who can write the file but not read the key: a changed payload with a checksum to
    // match (what a plain sha256 would have accepted), or another component's genuine artifact under this name.
    let genuine = std::fs::read(artifact).unwrap();
    let mut forged = genuine.clone();
    let at = forged.len() - 100;
    forged[at] ^= 0x55;
    let checksum = <sha2::Sha256 as sha2::Digest>::digest(&forged[40..]);
    forged[8..40].copy_from_slice(&checksum);
    std::fs::write(artifact, &forged).unwrap();
    let plugin = PluginRuntime::new(config.clone()).unwrap().load(Slot::Validation, &bytes, "v").unwrap();
    assert!(!plugin.meta().from_cache, "a forged artifact must never run");

    let other = component("fixtures/slow");
    PluginRuntime::new(config.clone()).unwrap().load(Slot::Validation, &other, "slow").unwrap();
    let other_artifact = dir.path().join("cache").join(
        artifact
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .replace(order_host::plugins::Digest::of(&bytes).hex(), order_host::plugins::Digest::of(&other).hex()),
    );
    std::fs::copy(&other_artifact, artifact).unwrap();
    let plugin = PluginRuntime::new(config).unwrap().load(Slot::Validation, &bytes, "v").unwrap();
    assert!(!plugin.meta().from_cache, "another component's artifact is not this one's");
    assert_eq!(plugin.validate(&sample_order("c")).unwrap().total_cents, 4200);
}
