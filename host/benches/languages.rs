//! Plugins from other toolchains: the payment example built with componentize-py and with jco
//! (`scripts/build-examples.sh`), next to the Rust default. For each: a fresh-instance `charge` call (criterion
//! medians) under both ways of resetting a memory between calls (`MemoryReset`: only the written pages, or a 256 KiB
//! prefix with the rest handed back to the kernel), side by side; and how long a load takes when it compiles and when
//! it comes from the artifact cache.
//!
//! Run: `scripts/build-plugins.sh && scripts/build-examples.sh && cargo bench -p order-host --bench languages`.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use order_host::plugins::{Limits, LoadedPlugin, MemoryReset, PluginRuntime, RuntimeConfig, Slot, SlotLimits, wit};

fn dist() -> PathBuf {
    std::env::var_os("PLUGINS_DIST")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/dist"), PathBuf::from)
}

fn runtime(cache: &std::path::Path, memory_reset: MemoryReset) -> Arc<PluginRuntime> {
    PluginRuntime::new(RuntimeConfig {
        limits: SlotLimits::uniform(Limits::default()),
        cache_dir: Some(cache.to_path_buf()),
        memory_reset,
        ..RuntimeConfig::default()
    })
    .expect("runtime")
}

/// Loads `bytes` in a fresh runtime: the time it took and the plugin.
fn timed_load(cache: &std::path::Path, bytes: &[u8], memory_reset: MemoryReset) -> (Duration, LoadedPlugin) {
    let rt = runtime(cache, memory_reset);
    let started = Instant::now();
    let plugin = rt.load(Slot::Payment, bytes, "bench").expect("the example loads");
    (started.elapsed(), plugin)
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sample_size(30)
        .configure_from_args();
    let request = wit::ChargeRequest {
        payment_id: "payment-456".into(),
        order_id: "order-123".into(),
        amount_cents: 5200,
        attempt: 1,
    };
    let mut rows = Vec::new();
    let mut group = c.benchmark_group("charge_by_language");
    for (label, file) in
        [("rust", "payment.wasm"), ("python", "examples/payment-python.wasm"), ("js", "examples/payment-js.wasm")]
    {
        let path = dist().join(file);
        let Ok(bytes) = std::fs::read(&path) else {
            println!("{label}: {} is missing (scripts/build-examples.sh builds it)", path.display());
            continue;
        };
        let cache = tempfile::tempdir().expect("cache dir");
        let (compiled, _) = timed_load(cache.path(), &bytes, MemoryReset::WrittenPages);
        let (cached, plugin) = timed_load(cache.path(), &bytes, MemoryReset::WrittenPages);
        let (_, prefix) = timed_load(cache.path(), &bytes, MemoryReset::Prefix);
        assert!(plugin.meta().from_cache, "{label}: the second load comes from the cache");
        plugin.charge(&request).expect("charged");
        let started = Instant::now();
        plugin.charge(&request).expect("charged");
        let one = started.elapsed();
        group.bench_function(format!("{label}/written-pages"), |b| {
            b.iter(|| plugin.charge(black_box(&request)).expect("charged"));
        });
        group.bench_function(format!("{label}/prefix"), |b| {
            b.iter(|| prefix.charge(black_box(&request)).expect("charged"));
        });
        rows.push((label, bytes.len(), compiled, cached, one));
    }
    group.finish();
    c.final_summary();

    let (effective, why) = MemoryReset::WrittenPages.effective();
    println!("\nwritten-pages reset in effect: {:?}{}", effective, why.map(|w| format!(" ({w})")).unwrap_or_default());
    println!("load and fresh-instance charge by language (written-pages reset)");
    println!("{:<8} {:>10} {:>12} {:>12} {:>14}", "plugin", "MB", "compile s", "cached ms", "one charge µs");
    for (label, size, compiled, cached, one) in rows {
        println!(
            "{label:<8} {:>10.1} {:>12.2} {:>12.1} {:>14.0}",
            size as f64 / 1e6,
            compiled.as_secs_f64(),
            cached.as_secs_f64() * 1e3,
            one.as_secs_f64() * 1e6
        );
    }
}
