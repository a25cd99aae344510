//! Hostile components against the sandbox's edges: what a plugin hands back is counted before it is copied, one
//! slot's hung calls leave the other slots their instances, an instance's memories are capped together, compiling
//! has a time and memory budget, and the registry keeps answering while a component loads.

mod common;

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use common::{component, runtime, runtime_with, sample_order, test_limits, wait_until};
use order_host::plugins::{
    Compiler, Limits, LoadError, PluginError, PluginRuntime, Registry, RuntimeConfig, Slot, SlotLimits, wit,
};

fn config(limits: Limits) -> RuntimeConfig {
    RuntimeConfig { limits: SlotLimits::uniform(limits), max_instances: 32, ..RuntimeConfig::default() }
}

fn assert_output_too_large(err: &PluginError) {
    assert_eq!(err.code(), "output_too_large", "{err:?}");
    assert!(!err.is_retryable(), "an oversized answer will not shrink on a retry");
    assert!(err.to_string().contains("(PLUGIN_MAX_OUTPUT)"), "{err}");
    assert!(err.to_string().len() < 300, "the answer itself is not carried along: {err}");
}

// ---- what a plugin hands back ----

#[test]
fn strings_aliasing_one_buffer_are_counted_before_they_are_copied() {
    // 4096 items whose skus all point at the same 16 KiB, each string well below any per-string bound: 64 MiB if
    // lifted. Before, the host copied all 64 MiB (wasmtime's default hostcall fuel is 128 MiB) and only then measured
    // it; now lifting stops after PLUGIN_MAX_OUTPUT × 4 bytes, before the copy is made.
    let rt = runtime();
    let plugin = rt.load(Slot::Validation, &component("fixtures/aliased-strings"), "aliased").expect("type-checks");
    let err = plugin.validate(&sample_order("o-alias")).unwrap_err();
    assert_output_too_large(&err);
    assert!(err.to_string().contains("more than 262144 bytes at once"), "{err}");
    let err = rt.vet(&plugin).unwrap_err();
    assert!(matches!(&err, LoadError::Trial(e) if e.code() == "output_too_large"), "{err:?}");

    // The bound is the call's own (4 × 64 KiB), not wasmtime's default: a 1 MiB transaction id is stopped while it
    // is being lifted, before it is copied whole and measured.
    let plugin = rt.load(Slot::Payment, &component("fixtures/oversized-receipt"), "big").expect("type-checks");
    let request = wit::ChargeRequest { payment_id: "p".into(), order_id: "o".into(), amount_cents: 1, attempt: 1 };
    let err = plugin.charge(&request).unwrap_err();
    assert_output_too_large(&err);
    assert!(err.to_string().contains("more than 262144 bytes at once"), "{err}");
}

#[test]
fn a_huge_error_is_an_oversized_answer_too() {
    let rt = runtime();
    let plugin = rt.load(Slot::Validation, &component("fixtures/huge-error-list"), "errors").expect("type-checks");
    let err = plugin.validate(&sample_order("o-errors")).unwrap_err();
    assert_output_too_large(&err);
    // With room for it, the same error comes through whole: the cap, not the fixture, decided above.
    let roomy = runtime_with(Limits { max_output: 4 << 20, ..test_limits() });
    let plugin = roomy.load(Slot::Validation, &component("fixtures/huge-error-list"), "errors").unwrap();
    let err = plugin.validate(&sample_order("o-errors")).unwrap_err();
    assert_eq!(err.code(), "invalid_order");
    assert!(err.to_string().len() > 2_000_000, "{}", err.to_string().len());
}

// ---- time ----

#[test]
fn a_late_busy_looper_is_refused_at_load_and_interrupted_at_run_time() {
    let rt = runtime();
    let plugin = rt.load(Slot::Shipping, &component("fixtures/late-busy-looper"), "looper").expect("type-checks");
    let err = rt.vet(&plugin).unwrap_err();
    assert!(matches!(&err, LoadError::Trial(PluginError::Timeout { .. })), "{err:?}");
    for n in 0..3 {
        let err = plugin.prepare_package(&sample_order(&format!("o-spin-{n}"))).unwrap_err();
        assert!(matches!(err, PluginError::Timeout { .. }), "{err:?}");
    }
    let validation = rt.load(Slot::Validation, &component("validation"), "validation").unwrap();
    assert_eq!(validation.validate(&sample_order("after")).unwrap().total_cents, 4200);
}

#[test]
fn a_sleeper_that_passes_its_trial_is_still_held_to_the_deadline() {
    let rt = runtime();
    let plugin = rt.load(Slot::Shipping, &component("fixtures/picky-sleeper"), "picky").expect("type-checks");
    rt.vet(&plugin).expect("no trial order starts with slow-: it passes");
    let package = plugin.prepare_package(&sample_order("o-fine")).expect("ordinary orders ship");
    let err = plugin.dispatch_carrier(&sample_order("slow-1"), &package).unwrap_err();
    assert!(matches!(err, PluginError::Timeout { .. }), "{err:?}");
}

#[test]
fn a_long_log_line_is_cut_and_one_past_the_fuel_is_never_copied() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let longest = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let subscriber = tracing_subscriber::registry().with(LongestLine(Arc::clone(&longest)));
    let rt = runtime();
    let plugin = rt.load(Slot::Validation, &component("fixtures/long-log-line"), "long-log").expect("loads");
    let (plain, huge) = tracing::subscriber::with_default(subscriber, || {
        (plugin.validate(&sample_order("o-log")), plugin.validate(&sample_order("huge-log")))
    });
    assert_eq!(plain.unwrap_err().code(), "logged", "a 4 KiB line is no reason to fail the call");
    assert_eq!(longest.load(std::sync::atomic::Ordering::Relaxed), 1024, "the line was cut to 1 KiB");
    let err = huge.unwrap_err();
    assert_output_too_large(&err);
}

/// The longest message plugins logged (target `plugin`).
struct LongestLine(Arc<std::sync::atomic::AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for LongestLine {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message(usize);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}").len();
                }
            }
        }
        if event.metadata().target() == "plugin" {
            let mut message = Message(0);
            event.record(&mut message);
            self.0.fetch_max(message.0, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

// ---- instances ----

#[test]
fn one_slots_hung_calls_leave_the_other_slots_their_instances() {
    // A pool of 6 instances: each slot may have 2 in flight. Six shipping calls that sleep to their deadline used to
    // take all six, and validation answered `plugin_busy` until they ended.
    let rt = PluginRuntime::new(RuntimeConfig {
        max_instances: 6,
        ..config(Limits { deadline: Duration::from_secs(3), ..test_limits() })
    })
    .unwrap();
    let sleeper = Arc::new(rt.load(Slot::Shipping, &component("fixtures/picky-sleeper"), "picky").unwrap());
    let validation = rt.load(Slot::Validation, &component("validation"), "validation").unwrap();
    let start = Arc::new(std::sync::Barrier::new(6));
    let (tx, rx) = mpsc::channel();
    for n in 0..6 {
        let (sleeper, tx, start) = (Arc::clone(&sleeper), tx.clone(), Arc::clone(&start));
        std::thread::spawn(move || {
            let order = sample_order(&format!("slow-{n}"));
            let package = wit::Package { package_id: "p".into(), weight_grams: 1, box_: wit::BoxSize::Small, units: 1 };
            start.wait();
            tx.send(sleeper.dispatch_carrier(&order, &package)).unwrap();
        });
    }
    // Four of them are turned away at once; two sleep until their deadline.
    let mut busy = 0;
    wait_until(Duration::from_secs(30), "four calls turned away as busy", || {
        while let Ok(outcome) = rx.try_recv() {
            let err = outcome.expect_err("slow- orders never ship");
            assert_eq!(err.code(), "plugin_busy", "{err:?}");
            busy += 1;
        }
        busy == 4
    });
    // While the two shipping calls sleep, validation is served all the same.
    assert_eq!(rt.in_flight(Slot::Shipping), 2);
    assert_eq!(validation.validate(&sample_order("beside")).unwrap().total_cents, 4200);
    assert_eq!(rt.in_flight(Slot::Shipping), 2, "validation ran while shipping's share was taken");
    for _ in 0..2 {
        let err = rx.recv().unwrap().unwrap_err();
        assert!(matches!(err, PluginError::Timeout { .. }), "{err:?}");
    }
    // Their instances are back: the shipper can be called again.
    assert_eq!(rt.in_flight(Slot::Shipping), 0);
    let package = sleeper.prepare_package(&sample_order("slow-again")).expect("packing never sleeps");
    let err = sleeper.dispatch_carrier(&sample_order("slow-again"), &package).unwrap_err();
    assert!(matches!(err, PluginError::Timeout { .. }), "{err:?}");

    // A fix for a slot whose share is all taken still loads: loading has instances of its own.
    let registry = Registry::new(Arc::clone(&rt));
    registry.install(Slot::Shipping, &component("fixtures/picky-sleeper"), "picky").unwrap();
    let hung: Vec<_> = (0..2)
        .map(|n| {
            let active = registry.active(Slot::Shipping).unwrap();
            std::thread::spawn(move || {
                let package = active.prepare_package(&sample_order("slow-x")).unwrap();
                active.dispatch_carrier(&sample_order(&format!("slow-hang-{n}")), &package)
            })
        })
        .collect();
    wait_until(Duration::from_secs(30), "the shipping share to be taken", || rt.in_flight(Slot::Shipping) == 2);
    let fixed = registry.install(Slot::Shipping, &component("shipping"), "fix").expect("the fix loads and is tried");
    assert_eq!(fixed.name, "shipping");
    for call in hung {
        assert!(matches!(call.join().unwrap(), Err(PluginError::Timeout { .. })));
    }
}

/// A validator written by hand in WAT: `info` answers from static data; `validate` grows a second linear memory by
/// `pages` and, if that worked, answers a permanent error `grew`. Its canonical ABI is laid out by hand. `spare`
/// more (unused) memories are defined beside them.
fn two_memory_validator(pages: u32, spare: usize) -> Vec<u8> {
    let spare = "(memory 0)".repeat(spare);
    let wat = format!(
        r#"(component
  (core module $m
    (memory (export "memory") 1)
    (memory $extra 0)
    {spare}
    (global $bump (mut i32) (i32.const 4096))
    ;; "two-memory" at 16, "0.1.0" at 32, info's record at 64, "grew" at 80, the answer at 128.
    (data (i32.const 16) "two-memory")
    (data (i32.const 32) "0.1.0")
    (data (i32.const 64) "\10\00\00\00\0a\00\00\00\20\00\00\00\05\00\00\00")
    (data (i32.const 80) "grew")
    (data (i32.const 128) "\01\00\00\00\00\00\00\00\01\00\00\00\50\00\00\00\04\00\00\00\50\00\00\00\04\00\00\00")
    (func (export "info") (result i32) i32.const 64)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $at i32)
      (local.set $at (i32.and (i32.add (global.get $bump) (i32.sub (local.get 2) (i32.const 1)))
                              (i32.sub (i32.const 0) (local.get 2))))
      (global.set $bump (i32.add (local.get $at) (local.get 3)))
      (local.get $at))
    (func (export "validate")
      (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
      (if (i32.eq (memory.grow $extra (i32.const {pages})) (i32.const -1)) (then unreachable))
      i32.const 128))
  (core instance $i (instantiate $m))
  (type $address' (record (field "street" string) (field "city" string) (field "state" string)
                          (field "zip-code" string)))
  (export $address "address" (type $address'))
  (type $item' (record (field "sku" string) (field "quantity" u32) (field "unit-price-cents" u64)))
  (export $item "item" (type $item'))
  (type $order' (record (field "order-id" string) (field "payment-id" string) (field "items" (list $item))
                        (field "address" $address) (field "shipment" u32) (field "attempt" u32)))
  (export $order "order" (type $order'))
  (type $validated' (record (field "order" $order) (field "total-cents" u64)))
  (export $validated "validated-order" (type $validated'))
  (type $failure' (record (field "code" string) (field "message" string)))
  (export $failure "failure" (type $failure'))
  (type $error' (variant (case "retryable" $failure) (case "permanent" $failure)))
  (export $error "activity-error" (type $error'))
  (type $info' (record (field "name" string) (field "version" string)))
  (export $info "plugin-info" (type $info'))
  (func (export "info") (result $info)
    (canon lift (core func $i "info") (memory $i "memory")))
  (func (export "validate") (param "order" $order) (result (result $validated (error $error)))
    (canon lift (core func $i "validate") (memory $i "memory") (realloc (func $i "realloc")))))"#
    );
    wat::parse_str(wat).expect("the WAT parses")
}

#[test]
fn an_instances_memories_are_capped_together() {
    // 16 MiB for the instance: the first memory holds 64 KiB, so the second may not grow to 16 MiB on its own —
    // which a cap per memory would have allowed.
    let rt = runtime();
    let plugin = rt.load(Slot::Validation, &two_memory_validator(256, 0), "two-memory").expect("loads");
    assert_eq!(plugin.meta().name, "two-memory");
    let err = plugin.validate(&sample_order("o-mem")).unwrap_err();
    assert!(matches!(err, PluginError::MemoryLimit { limit_bytes, .. } if limit_bytes == 16 << 20), "{err:?}");
    // What fits in the sum is allowed: the same component growing 8 MiB answers.
    let plugin = rt.load(Slot::Validation, &two_memory_validator(128, 0), "two-memory").unwrap();
    let err = plugin.validate(&sample_order("o-mem")).unwrap_err();
    assert_eq!(err.code(), "grew", "{err:?}");
    // A third memory is refused when the component loads, before any of its code runs.
    let err = rt.load(Slot::Validation, &two_memory_validator(128, 1), "three-memories").unwrap_err();
    assert!(err.to_string().contains("memories count of 3 exceeds"), "{err}");
}

// ---- compiling ----

/// A component of one core module exporting `n` functions: what compiles slowly and hungrily.
fn many_exports(n: usize) -> Vec<u8> {
    let funcs = (0..n).fold(String::new(), |mut out, i| {
        let _ = writeln!(out, "(func (export \"f{i}\") (result i32) i32.const {i})");
        out
    });
    wat::parse_str(format!("(component (core module {funcs}) )")).expect("the WAT parses")
}

fn child(timeout: Duration, memory_bytes: u64) -> Arc<PluginRuntime> {
    PluginRuntime::new(RuntimeConfig {
        compiler: Compiler::Child { program: env!("CARGO_BIN_EXE_order-host").into(), timeout, memory_bytes },
        ..config(test_limits())
    })
    .unwrap()
}

#[test]
fn compiling_runs_in_a_child_within_a_time_and_memory_budget() {
    // Within budget: the child's artifact is what the parent runs.
    let rt = child(Duration::from_mins(1), 1 << 30);
    let plugin = rt.load(Slot::Validation, &component("validation"), "validation").expect("compiles in the child");
    assert_eq!(plugin.validate(&sample_order("o-child")).unwrap().total_cents, 4200);

    // 20,000 exports: past a 64 MiB memory budget, refused (the child aborts, the parent says why).
    let big = many_exports(20_000);
    let err = child(Duration::from_mins(2), 64 << 20).load(Slot::Validation, &big, "many").unwrap_err();
    assert_eq!(err.code(), "compile_budget", "{err}");
    assert!(err.to_string().contains("PLUGIN_COMPILE_MEMORY"), "{err}");

    // Past the time budget, refused (the child is killed).
    let err = child(Duration::from_millis(100), 1 << 30).load(Slot::Validation, &big, "many").unwrap_err();
    assert_eq!(err.code(), "compile_budget", "{err}");
    assert!(err.to_string().contains("PLUGIN_COMPILE_TIMEOUT"), "{err}");

    // An invalid component is reported as such, not as a crash.
    let mut broken = component("validation");
    broken.truncate(broken.len() / 2);
    let err = rt.load(Slot::Validation, &broken, "broken").unwrap_err();
    assert_eq!(err.code(), "invalid_component", "{err}");
}

// ---- the registry while something loads ----

#[test]
fn the_registry_answers_while_a_component_loads() {
    // A 3 s deadline: installing the sleeper takes that long (its trial call sleeps to the deadline, then it is
    // refused). Meanwhile every reader answers, and the install is still running when they are done.
    let registry = Registry::new(
        PluginRuntime::new(config(Limits { deadline: Duration::from_secs(3), ..test_limits() })).unwrap(),
    );
    registry.install(Slot::Validation, &component("validation"), "validation").unwrap();
    let installing = {
        let registry = Arc::clone(&registry);
        std::thread::spawn(move || registry.install(Slot::Validation, &component("fixtures/sleeper"), "sleeper"))
    };
    let mut reads = 0;
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(1) {
        let status = registry.status(Slot::Validation);
        assert_eq!(status.active.as_ref().map(|m| m.name.as_str()), Some("validation"));
        assert!(registry.active(Slot::Validation).is_some());
        reads += 1;
    }
    assert!(!installing.is_finished(), "the install outlived the reads, so they ran while it compiled and tried");
    assert!(reads > 100, "{reads}");
    let err = installing.join().unwrap().unwrap_err();
    assert!(matches!(&err, LoadError::Trial(PluginError::Timeout { .. })), "{err:?}");
    assert_eq!(registry.status(Slot::Validation).last_refusal.map(|r| r.error.code()), Some("trial_failed"));
}
