//! A fresh-instance call of each default plugin (fresh `Store`, instantiate, call) with a 3-item order, next to the
//! same rules called natively, and the validation call once more with cold caches. Ends with a table of medians in µs
//! and the wasm/native ratio.
//!
//! Run: `cargo bench -p order-host --bench plugins` (after `scripts/build-plugins.sh`).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::Criterion;
use order_host::plugins::{Limits, LoadedPlugin, PluginRuntime, RuntimeConfig, Slot, SlotLimits, wit};

// The plugins' own rule modules, compiled natively: "the same logic called natively".
#[path = "../../plugins/validation/src/rules.rs"]
#[allow(dead_code, unused_imports)] // the rules' own unit tests compile here too but do not run
mod validation_rules;

#[path = "../../plugins/payment/src/rules.rs"]
#[allow(dead_code, unused_imports)] // the rules' own unit tests compile here too but do not run
mod payment_rules;

#[path = "../../plugins/shipping/src/rules.rs"]
#[allow(dead_code, unused_imports)] // the rules' own unit tests compile here too but do not run
mod shipping_rules;

fn dist() -> PathBuf {
    std::env::var_os("PLUGINS_DIST")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/dist"), PathBuf::from)
}

fn load(runtime: &std::sync::Arc<PluginRuntime>, slot: Slot) -> LoadedPlugin {
    let path = dist().join(slot.file_name());
    let bytes =
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run scripts/build-plugins.sh)", path.display()));
    runtime.load(slot, &bytes, "bench").expect("default plugin loads")
}

/// The sample cart plus a third line, so validation has a little more to sum.
fn order() -> wit::Order {
    let mut items = order_host::domain::sample::items();
    items.push(order_host::domain::Item { sku: "SKU-003".into(), quantity: 4, unit_price_cents: 250 });
    let input = order_host::domain::OrderInput {
        order_id: "order-123".into(),
        payment_id: "payment-456".into(),
        items,
        address: order_host::domain::sample::address(),
        options: order_host::domain::OrderOptions::default(),
    };
    order_host::plugins::convert::order(&input, 1, 1)
}

fn native_validate(order: &wit::Order) -> u64 {
    let items: Vec<_> = order
        .items
        .iter()
        .map(|i| validation_rules::Item { sku: &i.sku, quantity: i.quantity, unit_price_cents: i.unit_price_cents })
        .collect();
    let a = &order.address;
    let address =
        validation_rules::Address { street: &a.street, city: &a.city, state: &a.state, zip_code: &a.zip_code };
    validation_rules::validate(&items, &address).expect("valid").total_cents
}

fn native_ship(order: &wit::Order) -> String {
    let parcel = shipping_rules::prepare(
        &order.order_id,
        order.shipment,
        order.items.iter().map(|i| (i.sku.as_str(), i.quantity)),
    )
    .expect("packable");
    shipping_rules::dispatch(&order.order_id, order.shipment, &order.address.zip_code, parcel.boxed)
        .expect("ok")
        .tracking
}

fn main() {
    let output = criterion_dir();
    let mut c = Criterion::default()
        .output_directory(&output)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();

    let runtime = PluginRuntime::new(RuntimeConfig {
        limits: SlotLimits::uniform(Limits::default()),
        ..RuntimeConfig::default()
    })
    .expect("runtime");
    let (validation, payment, shipping) =
        (load(&runtime, Slot::Validation), load(&runtime, Slot::Payment), load(&runtime, Slot::Shipping));
    let order = order();
    let charge = wit::ChargeRequest {
        payment_id: order.payment_id.clone(),
        order_id: order.order_id.clone(),
        amount_cents: 5200,
        attempt: 1,
    };

    let mut group = c.benchmark_group("validate");
    group.bench_function("wasm", |b| b.iter(|| validation.validate(black_box(&order)).expect("valid")));
    group.bench_function("native", |b| b.iter(|| native_validate(black_box(&order))));
    group.finish();

    // The same call with every cache cold: 32 MiB are written between calls, as other work does between two
    // activities in a live host.
    let mut thrash = vec![0u8; 32 << 20];
    let mut group = c.benchmark_group("validate_cold");
    group.bench_function("wasm", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for i in 0..iters {
                for (j, x) in thrash.iter_mut().enumerate().step_by(64) {
                    *x = x.wrapping_add((i as u8) ^ (j as u8));
                }
                let t = std::time::Instant::now();
                validation.validate(black_box(&order)).expect("valid");
                total += t.elapsed();
            }
            total
        });
    });
    group.finish();

    let mut group = c.benchmark_group("charge");
    group.bench_function("wasm", |b| b.iter(|| payment.charge(black_box(&charge)).expect("charged")));
    group.bench_function("native", |b| {
        b.iter(|| {
            payment_rules::charge(
                black_box(&charge.payment_id),
                charge.amount_cents,
                payment_rules::AMOUNT_LIMIT_CENTS,
                "txn-",
            )
        });
    });
    group.finish();

    let mut group = c.benchmark_group("ship");
    group.bench_function("wasm", |b| {
        b.iter(|| {
            let package = shipping.prepare_package(black_box(&order)).expect("packed");
            shipping.dispatch_carrier(&order, &package).expect("dispatched")
        });
    });
    group.bench_function("native", |b| b.iter(|| native_ship(black_box(&order))));
    group.finish();

    c.final_summary();
    summarize(&output);
}

/// Where criterion writes its estimates: `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`, else
/// `target/criterion` at the workspace root.
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"), PathBuf::from)
        .join("criterion")
}

fn median_micros(dir: &Path, group: &str, function: &str) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join(group).join(function).join("new/estimates.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(json["median"]["point_estimate"].as_f64()? / 1000.0)
}

fn summarize(dir: &Path) {
    println!("\nfresh-instance plugin call vs the same rules natively (medians)");
    println!("{:<10} {:>12} {:>12} {:>10}", "call", "wasm µs", "native µs", "ratio");
    for (group, label) in [("validate", "validate"), ("charge", "charge"), ("ship", "prep+disp")] {
        match (median_micros(dir, group, "wasm"), median_micros(dir, group, "native")) {
            (Some(wasm), Some(native)) => {
                println!("{label:<10} {wasm:>12.2} {native:>12.3} {:>9.0}x", wasm / native);
            }
            _ => println!("{label:<10} (not measured in this run)"),
        }
    }
    if let Some(cold) = median_micros(dir, "validate_cold", "wasm") {
        println!("{:<10} {cold:>12.2}  (caches flushed between calls)", "validate*");
    }
    if let Some(wasm) = median_micros(dir, "validate", "wasm") {
        println!("validate_wasm_median_us={wasm:.2} target_us=20 {}", if wasm <= 20.0 { "met" } else { "MISSED" });
    }
}
