//! One typed configuration, read from flags or the environment (the same names: `--plugins-dir` ↔ `PLUGINS_DIR`),
//! with safe defaults: everything runs embedded on a fresh machine.

use std::path::PathBuf;
use std::time::Duration;

use crate::activities::OrderDefaults;
use crate::activities::failure::{self, FailureMode, FailureSimulation, Injections};
use crate::domain::TimeoutAction;
use crate::plugins::{Compiler, Limits, MemoryReset, RuntimeConfig, Slot, SlotLimits};

/// A configured secret: printed as `***`, read with [`Secret::expose`].
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// Settings shared by every subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Where orders, payments and events live: `sqlite://path.db` (created if missing) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/orders.db", global = true)]
    pub database_url: String,

    /// The Temporal frontend: `host:port` or a URL (unset: the `temporal.toml` profile's, else 127.0.0.1:7233). TLS,
    /// an API key and profiles come from the variables the `temporal` CLI reads (`TEMPORAL_API_KEY`, `TEMPORAL_TLS*`,
    /// `TEMPORAL_PROFILE`, `TEMPORAL_CONFIG_FILE`).
    #[arg(long, env = "TEMPORAL_ADDRESS", global = true)]
    pub temporal_address: Option<String>,

    /// The Temporal namespace (unset: the profile's, else `default`).
    #[arg(long, env = "TEMPORAL_NAMESPACE", global = true)]
    pub temporal_namespace: Option<String>,

    /// Whether messages to and from Temporal are gzip-compressed: `none` (a local or in-datacenter link gains nothing,
    /// and both the worker and the server pay the CPU on every workflow task) or `gzip` (a slow or metered link).
    #[arg(long, env = "TEMPORAL_GRPC_COMPRESSION", value_enum, default_value = "none", global = true)]
    pub temporal_grpc_compression: crate::temporal::Compression,

    /// Task queue of `OrderWorkflow` and its activities.
    #[arg(long, env = "ORDERS_TASK_QUEUE", default_value = "orders", global = true)]
    pub orders_task_queue: String,

    /// Task queue of `ShippingWorkflow` and its activities.
    #[arg(long, env = "SHIPPING_TASK_QUEUE", default_value = "shipping", global = true)]
    pub shipping_task_queue: String,

    /// How long an order waits for `approve_order`.
    #[arg(long, env = "APPROVAL_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration, global = true)]
    pub approval_timeout: Duration,

    /// What happens when the approval wait ends without approval.
    #[arg(long, env = "APPROVAL_TIMEOUT_ACTION", value_enum, default_value = "cancel", global = true)]
    pub approval_timeout_action: TimeoutAction,

    /// Shipping workflows tried per order before it fails (and is refunded).
    #[arg(long, env = "MAX_SHIPPING_ATTEMPTS", default_value_t = 3, global = true)]
    pub max_shipping_attempts: u32,

    /// Start-to-close timeout of one business activity attempt. Short on purpose: the activities take milliseconds,
    /// and this timeout is what bounds an attempt that hangs.
    #[arg(long, env = "ACTIVITY_TIMEOUT", default_value = "300ms", value_parser = humantime::parse_duration, global = true)]
    pub activity_timeout: Duration,

    /// Failure simulation at the start of every activity: `off` or `trellis` (33 % fail, 34 % hang, 33 % pass).
    #[arg(long, env = "FAILURE_SIMULATION", value_enum, default_value = "off", global = true)]
    pub failure_simulation: FailureMode,

    /// Seed for the failure simulation (unset: random).
    #[arg(long, env = "FAILURE_SEED", global = true)]
    pub failure_seed: Option<u64>,

    /// Deterministic injected failures, e.g. `charge_payment:after:2` (the first two attempts fail after charging).
    #[arg(long, env = "FAILURE_INJECT", default_value = "", value_parser = failure::parse_injections, global = true)]
    pub failure_inject: Injections,

    /// Where the REST API listens (`serve`, `api`).
    #[arg(long, env = "HTTP_ADDR", default_value = "0.0.0.0:8000", global = true)]
    pub http_addr: String,

    /// Where `worker` serves `/metrics`, `/healthz` and `/readyz` (unset: it serves none; `serve` and `api` have them
    /// on `HTTP_ADDR`). Port 0 picks a free port, logged at start.
    #[arg(long, env = "METRICS_ADDR", global = true)]
    pub metrics_addr: Option<String>,

    /// Bearer tokens of the client role (start, status, cancel, update-address), comma-separated; unset = open.
    #[arg(long, env = "CLIENT_TOKENS", global = true, hide_env_values = true)]
    pub client_tokens: Option<Secret>,

    /// Bearer tokens of the operator role (also approve, list orders, events, per-order options); unset = what the
    /// client role asks.
    #[arg(long, env = "OPERATOR_TOKENS", global = true, hide_env_values = true)]
    pub operator_tokens: Option<Secret>,

    /// Bearer tokens of the admin role (also plugin uploads and rollbacks); unset (with `ADMIN_TOKEN`) disables
    /// plugin administration.
    #[arg(long, env = "ADMIN_TOKENS", global = true, hide_env_values = true)]
    pub admin_tokens: Option<Secret>,

    /// One more admin token (the first round's name, still accepted).
    #[arg(long, env = "ADMIN_TOKEN", global = true, hide_env_values = true)]
    pub admin_token: Option<Secret>,

    /// How long the REST API waits for Temporal or a worker before answering 503.
    #[arg(long, env = "COMMAND_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration, global = true)]
    pub command_timeout: Duration,

    /// A way to publish plugins: `<slot>.wasm` (validation, payment, shipping) dropped here while the process runs is
    /// checked and published to the shared store; at start, only for slots the store has no release of yet.
    #[arg(long, env = "PLUGINS_DIR", default_value = "plugins/dist", global = true)]
    pub plugins_dir: PathBuf,

    /// How often the shared plugin store is read for new versions when the database cannot announce them (SQLite);
    /// PostgreSQL announces them (`LISTEN`) and is read every 5 s besides, in case an announcement was missed.
    #[arg(long, env = "PLUGIN_POLL_INTERVAL", default_value = "250ms", value_parser = humantime::parse_duration, global = true)]
    pub plugin_poll_interval: Duration,

    /// How often each process reports which plugin versions it runs.
    #[arg(long, env = "PLUGIN_REPORT_INTERVAL", default_value = "5s", value_parser = humantime::parse_duration, global = true)]
    pub plugin_report_interval: Duration,

    /// A process that has not reported for this long is no longer listed (it stopped, or lost the database).
    #[arg(long, env = "PLUGIN_PROCESS_TTL", default_value = "30s", value_parser = humantime::parse_duration, global = true)]
    pub plugin_process_ttl: Duration,

    /// Where the host keeps its files (the compiled-plugin cache).
    #[arg(long, env = "DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,

    /// Wall-clock budget of one plugin call (humantime: `200ms`, `2s`); keep it below `ACTIVITY_TIMEOUT`.
    #[arg(long, env = "PLUGIN_DEADLINE", default_value = "200ms", value_parser = humantime::parse_duration, global = true)]
    pub plugin_deadline: Duration,

    /// Linear memory one plugin instance may use (`32MiB`, `512KiB`, bytes).
    #[arg(long, env = "PLUGIN_MEMORY_LIMIT", default_value = "32MiB", value_parser = parse_bytes, global = true)]
    pub plugin_memory_limit: usize,

    /// Bytes a plugin may hand back from one call (every string and list of the result, `info()` and errors too).
    #[arg(long, env = "PLUGIN_MAX_OUTPUT", default_value = "64KiB", value_parser = parse_bytes, global = true)]
    pub plugin_max_output: usize,

    /// Per-slot overrides of the three limits above, e.g. `payment.deadline=2s,shipping.memory=64MiB,
    /// validation.output=16KiB`.
    #[arg(long, env = "PLUGIN_LIMITS", default_value = "", value_parser = parse_slot_overrides, global = true)]
    pub plugin_limits: SlotOverrides,

    /// Plugin instances that may run at once; each slot may use a third of them.
    #[arg(long, env = "PLUGIN_MAX_INSTANCES", default_value_t = 128, global = true)]
    pub plugin_max_instances: u32,

    /// The largest plugin component accepted (file, upload, `plugins check`).
    #[arg(long, env = "PLUGIN_MAX_BYTES", default_value = "64MiB", value_parser = parse_bytes, global = true)]
    pub plugin_max_bytes: usize,

    /// Wall-clock time compiling one component may take before it is refused.
    #[arg(long, env = "PLUGIN_COMPILE_TIMEOUT", default_value = "60s", value_parser = parse_compile_timeout, global = true)]
    pub plugin_compile_timeout: Duration,

    /// How plugin memories are reset between calls: `prefix` (the first 256 KiB in place, the rest handed back to
    /// the kernel) or `written-pages` (only what a call wrote is copied back; much faster for Python and JavaScript
    /// plugins; needs Linux 6.7+ and no active swap, else `prefix` is used with a warning).
    #[arg(long, env = "PLUGIN_MEMORY_RESET", default_value = "prefix", value_parser = parse_memory_reset, global = true)]
    pub plugin_memory_reset: MemoryReset,

    /// Memory compiling one component may use before it is refused.
    #[arg(long, env = "PLUGIN_COMPILE_MEMORY", default_value = "1GiB", value_parser = parse_compile_memory, global = true)]
    pub plugin_compile_memory: usize,

    /// The `order-host` binary that compiles components in a child process within the two budgets above; set by the
    /// binary itself. Unset (library use, tests): components compile in process, without a budget.
    #[arg(skip)]
    pub plugin_compiler: Option<PathBuf>,
}

impl Config {
    /// Who may call what on the REST API.
    pub fn access(&self) -> crate::http::Access {
        let expose = |s: &Option<Secret>| s.as_ref().map(|s| s.expose().to_owned());
        crate::http::Access::new(
            expose(&self.client_tokens).as_deref(),
            expose(&self.operator_tokens).as_deref(),
            expose(&self.admin_tokens).as_deref(),
            expose(&self.admin_token).as_deref(),
        )
    }

    /// How the plugin rollout looks and reports.
    pub fn rollout_timing(&self) -> crate::rollout::Timing {
        crate::rollout::Timing {
            poll: self.plugin_poll_interval.max(Duration::from_millis(10)),
            fallback_poll: Duration::from_secs(5),
            report: self.plugin_report_interval.max(Duration::from_millis(100)),
            process_ttl: self.plugin_process_ttl,
        }
    }

    /// The worker's defaults for orders.
    pub fn order_defaults(&self) -> OrderDefaults {
        OrderDefaults {
            approval_timeout: self.approval_timeout,
            approval_timeout_action: self.approval_timeout_action,
            max_shipping_attempts: self.max_shipping_attempts.max(1),
            shipping_task_queue: self.shipping_task_queue.clone(),
            activity_timeout: self.activity_timeout,
        }
    }

    /// The failure simulation.
    pub fn failure(&self) -> FailureSimulation {
        FailureSimulation {
            mode: self.failure_simulation,
            seed: self.failure_seed,
            injections: self.failure_inject.0.clone(),
        }
    }

    /// The plugin runtime's settings.
    pub fn runtime(&self, cache: bool) -> RuntimeConfig {
        let base = Limits {
            deadline: self.plugin_deadline,
            memory_bytes: self.plugin_memory_limit,
            max_output: self.plugin_max_output,
            ..Limits::default()
        };
        let mut limits = SlotLimits::uniform(base);
        for (slot, over) in &self.plugin_limits.0 {
            let l = limits.get_mut(*slot);
            l.deadline = over.deadline.unwrap_or(l.deadline);
            l.memory_bytes = over.memory_bytes.unwrap_or(l.memory_bytes);
            l.max_output = over.max_output.unwrap_or(l.max_output);
        }
        RuntimeConfig {
            limits,
            cache_dir: cache.then(|| self.data_dir.join("plugin-cache")),
            max_instances: self.plugin_max_instances,
            max_component_bytes: self.plugin_max_bytes,
            compiler: self.plugin_compiler.clone().map_or(Compiler::InProcess, |program| Compiler::Child {
                program,
                timeout: self.plugin_compile_timeout,
                memory_bytes: self.plugin_compile_memory as u64,
            }),
            memory_reset: self.plugin_memory_reset,
            ..RuntimeConfig::default()
        }
    }
}

/// A limit override for one slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Override {
    pub deadline: Option<Duration>,
    pub memory_bytes: Option<usize>,
    pub max_output: Option<usize>,
}

/// Parsed `PLUGIN_LIMITS`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlotOverrides(pub Vec<(Slot, Override)>);

/// Parses `slot.deadline=2s,slot.memory=64MiB,…`.
pub fn parse_slot_overrides(s: &str) -> Result<SlotOverrides, String> {
    let mut out: Vec<(Slot, Override)> = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').ok_or_else(|| format!("{part:?}: expected <slot>.<limit>=<value>"))?;
        let (slot, limit) =
            key.split_once('.').ok_or_else(|| format!("{key:?}: expected <slot>.deadline or <slot>.memory"))?;
        let slot: Slot = slot.parse().map_err(|e| format!("{e}"))?;
        let index = out.iter().position(|(s, _)| *s == slot).unwrap_or_else(|| {
            out.push((slot, Override::default()));
            out.len() - 1
        });
        let entry = &mut out[index].1;
        match limit {
            "deadline" => {
                entry.deadline = Some(humantime::parse_duration(value).map_err(|e| format!("{part:?}: {e}"))?);
            }
            "memory" => entry.memory_bytes = Some(parse_bytes(value).map_err(|e| format!("{part:?}: {e}"))?),
            "output" => entry.max_output = Some(parse_bytes(value).map_err(|e| format!("{part:?}: {e}"))?),
            other => return Err(format!("{other:?}: the limits are `deadline`, `memory` and `output`")),
        }
    }
    Ok(SlotOverrides(out))
}

/// `PLUGIN_COMPILE_TIMEOUT`: at least a second (starting the compiler process alone takes milliseconds).
fn parse_compile_timeout(s: &str) -> Result<Duration, String> {
    let timeout = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if timeout < Duration::from_secs(1) {
        return Err("at least 1s: starting the compiler takes part of it".into());
    }
    Ok(timeout)
}

/// `PLUGIN_COMPILE_MEMORY`: at least 64 MiB (the compiler process itself needs some).
fn parse_compile_memory(s: &str) -> Result<usize, String> {
    let bytes = parse_bytes(s)?;
    if bytes < 64 << 20 {
        return Err("at least 64MiB: the compiler process needs some to start".into());
    }
    Ok(bytes)
}

fn parse_memory_reset(s: &str) -> Result<MemoryReset, String> {
    match s.trim() {
        "prefix" => Ok(MemoryReset::Prefix),
        "written-pages" => Ok(MemoryReset::WrittenPages),
        other => Err(format!("{other:?}: expected prefix or written-pages")),
    }
}

/// Parses a byte size: `1048576`, `512KiB`, `32MiB`, `1GiB` (also `KB`/`MB`/`GB` as powers of 1000).
pub fn parse_bytes(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: usize = digits.parse().map_err(|_| format!("{s:?} is not a size like 32MiB"))?;
    let factor: usize = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => return Err(format!("{other:?} is not a size unit (B, KiB, MiB, GiB, KB, MB, GB)")),
    };
    n.checked_mul(factor).ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_bytes("32MiB"), Ok(32 << 20));
        assert_eq!(parse_bytes("512KiB"), Ok(512 << 10));
        assert_eq!(parse_bytes("1000"), Ok(1000));
        assert_eq!(parse_bytes("2MB"), Ok(2_000_000));
        assert!(parse_bytes("MiB").is_err());
        assert!(parse_bytes("3 parsecs").is_err());
    }

    #[test]
    fn slot_overrides() {
        let parsed = parse_slot_overrides("payment.deadline=2s, payment.memory=64MiB,shipping.memory=1MiB").unwrap();
        assert_eq!(
            parsed.0,
            vec![
                (
                    Slot::Payment,
                    Override { deadline: Some(Duration::from_secs(2)), memory_bytes: Some(64 << 20), max_output: None }
                ),
                (Slot::Shipping, Override { deadline: None, memory_bytes: Some(1 << 20), max_output: None }),
            ]
        );
        let output = parse_slot_overrides("validation.output=16KiB").unwrap();
        assert_eq!(output.0[0].1.max_output, Some(16 << 10));
        assert_eq!(parse_slot_overrides("").unwrap(), SlotOverrides::default());
        assert!(parse_slot_overrides("billing.deadline=1s").unwrap_err().contains("unknown plugin slot"));
        assert!(parse_slot_overrides("payment.cpu=1").is_err());
        assert!(parse_slot_overrides("payment").is_err());
    }
}
