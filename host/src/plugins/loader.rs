//! Turning bytes into a [`LoadedPlugin`]: decode, check the world, compile (or reuse the cache), pre-instantiate and
//! ask the plugin who it is. Any failure is a [`LoadError`] that says why.

use std::sync::Arc;
use std::time::SystemTime;

use wasmtime::component::Component;

use super::bindings::payment::PaymentProcessorPre;
use super::bindings::shipper::ShipperPre;
use super::bindings::validator::ValidatorPre;
use super::bindings::wit;
use super::call::{Exports, LoadedPlugin, Share};
use super::compile::{self, Compiler};
use super::error::describe;
use super::meta::PluginMeta;
use super::output::OUTPUT_TOO_LARGE;
use super::{Digest, LoadError, PluginError, PluginRuntime, Slot};
use crate::domain::{OrderInput, OrderOptions, sample};

/// `\0asm` followed by the core-module version (1) or the component-model layer (0x0d 0x00 0x01 0x00).
const MAGIC: &[u8; 4] = b"\0asm";
const CORE_VERSION: [u8; 4] = [1, 0, 0, 0];

/// Reads a component file without trusting it: a symbolic link is not followed, anything but a regular file is
/// refused, and a file larger than `limit` is refused from its size before a byte is read (and reading stops at the
/// limit if it grows meanwhile). `Ok(None)`: there is no such file.
pub fn read_component(path: &std::path::Path, limit: usize) -> Result<Option<Vec<u8>>, LoadError> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let io = |e: std::io::Error| LoadError::Io(format!("{}: {e}", path.display()));
    // Opened without following a link and without waiting on a FIFO; the checks are made on what was opened, so a
    // file swapped in between cannot slip past them.
    let file = match std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(LoadError::Io(format!("{} is a symbolic link; plugin files are not followed", path.display())));
        }
        Err(e) => return Err(io(e)),
    };
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(LoadError::Io(format!("{} is not a regular file", path.display())));
    }
    let size = usize::try_from(meta.len()).unwrap_or(usize::MAX);
    if size > limit {
        return Err(LoadError::TooLarge { size, limit });
    }
    let mut bytes = Vec::with_capacity(size);
    file.take(limit as u64 + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() > limit {
        return Err(LoadError::TooLarge { size: bytes.len(), limit });
    }
    Ok(Some(bytes))
}

impl PluginRuntime {
    /// Loads `bytes` as a version of `slot`. Nothing global changes: the caller decides whether to activate it.
    pub fn load(self: &Arc<Self>, slot: Slot, bytes: &[u8], source: &str) -> Result<LoadedPlugin, LoadError> {
        let limit = self.config.max_component_bytes;
        if bytes.len() > limit {
            return Err(LoadError::TooLarge { size: bytes.len(), limit });
        }
        if bytes.len() < 8 || &bytes[..4] != MAGIC {
            return Err(LoadError::NotWasm);
        }
        if bytes[4..8] == CORE_VERSION {
            return Err(LoadError::CoreModule);
        }

        let digest = Digest::of(bytes);
        let (component, from_cache) = self.compile(&digest, bytes)?;
        let imports: Vec<String> =
            component.component_type().imports(&self.engine).map(|(name, _)| name.to_owned()).collect();
        let pre = self.linker.instantiate_pre(&component).map_err(|e| {
            let missing = super::wasi::missing(imports.iter().map(String::as_str));
            LoadError::Imports(if missing.is_empty() {
                describe(&e)
            } else {
                format!("the host does not offer {} ({})", missing.join(", "), describe(&e))
            })
        })?;
        let wrong_world =
            |e: wasmtime::Error| LoadError::WrongWorld { slot, world: slot.world(), reason: describe(&e) };
        let exports = match slot {
            Slot::Validation => Exports::Validator(ValidatorPre::new(pre).map_err(wrong_world)?),
            Slot::Payment => Exports::Payment(PaymentProcessorPre::new(pre).map_err(wrong_world)?),
            Slot::Shipping => Exports::Shipper(ShipperPre::new(pre).map_err(wrong_world)?),
        };

        let mut plugin = LoadedPlugin {
            meta: Arc::new(PluginMeta {
                slot,
                digest,
                name: String::new(),
                version: String::new(),
                size_bytes: bytes.len(),
                source: source.to_owned(),
                from_cache,
                imports,
                loaded_at: SystemTime::now(),
            }),
            exports,
            bytes: Arc::from(bytes),
            runtime: Arc::clone(self),
            limits: self.config.limits.get(slot),
            share: Share::Serving,
        };
        let info = plugin.loading().info().map_err(LoadError::Info)?;
        let meta = Arc::make_mut(&mut plugin.meta);
        meta.name = info.name;
        meta.version = info.version;
        Ok(plugin)
    }

    /// Calls each of the version's exports once on reference input, under the slot's limits. Any answer — a value,
    /// a retryable or a permanent error — is fine; a trap, a deadline hit, a memory-limit hit or an answer over
    /// `PLUGIN_MAX_OUTPUT` refuses the version before it can take over a slot. Plugins have no I/O, so the trial has no effects.
    pub fn vet(&self, plugin: &LoadedPlugin) -> Result<(), LoadError> {
        let plugin = &plugin.loading();
        let order = reference_order(&plugin.meta.digest);
        let result = match &plugin.exports {
            Exports::Validator(_) => plugin.validate(&order).map(drop),
            Exports::Payment(_) => plugin.charge(&reference_charge(&order)).and_then(|receipt| {
                plugin
                    .refund(&wit::RefundRequest {
                        payment_id: receipt.payment_id,
                        transaction_id: receipt.transaction_id,
                        amount_cents: receipt.amount_cents,
                        reason: "customer cancelled".into(),
                    })
                    .map(drop)
            }),
            Exports::Shipper(_) => {
                plugin.prepare_package(&order).and_then(|package| plugin.dispatch_carrier(&order, &package).map(drop))
            }
        };
        match result {
            Err(e @ (PluginError::Timeout { .. } | PluginError::MemoryLimit { .. } | PluginError::Trap(_))) => {
                Err(LoadError::Trial(e))
            }
            Err(e @ PluginError::Permanent { .. }) if e.code() == OUTPUT_TOO_LARGE => Err(LoadError::Trial(e)),
            // A trial that could not run proves nothing: the version is not activated untried.
            Err(e @ (PluginError::Busy(_) | PluginError::NotLoaded(_))) => Err(LoadError::Trial(e)),
            _ => Ok(()),
        }
    }

    /// Compiles `bytes`, or deserializes the verified cached artifact of the same digest.
    fn compile(&self, digest: &Digest, bytes: &[u8]) -> Result<(Component, bool), LoadError> {
        if let Some(artifact) = self.cache.as_ref().and_then(|cache| cache.get(digest)) {
            // SAFETY: the artifact was produced by `Component::serialize` for an engine with the same compatibility
            // hash (it is part of the file name), lives in a directory only this user can write, and its HMAC under
            // this installation's key was checked just now, so these are the bytes we wrote.
            #[allow(unsafe_code)]
            match unsafe { Component::deserialize(&self.engine, &artifact) } {
                Ok(component) => return Ok((component, true)),
                Err(e) => {
                    tracing::warn!(%digest, error = %describe(&e), "cached plugin artifact refused; recompiling");
                }
            }
        }
        let component = match &self.config.compiler {
            Compiler::InProcess => {
                let component = Component::new(&self.engine, bytes).map_err(|e| LoadError::Invalid(describe(&e)))?;
                if let Some(cache) = &self.cache {
                    match component.serialize() {
                        Ok(artifact) => cache.put(digest, &artifact),
                        Err(e) => tracing::warn!(%digest, error = %describe(&e), "cannot serialize compiled plugin"),
                    }
                }
                component
            }
            Compiler::Child { program, timeout, memory_bytes } => {
                let artifact = compile::in_child(program, *timeout, *memory_bytes, bytes)?;
                // SAFETY: the artifact is what `Engine::precompile_component` printed in a child process running
                // this very binary with the same compile settings (`compile_config`; deserialize checks that they
                // match), through a pipe only that child writes. The child is a budget, not a security boundary:
                // it compiles the component exactly as this process would.
                #[allow(unsafe_code)]
                let loaded = unsafe { Component::deserialize(&self.engine, &artifact) };
                let component = loaded.map_err(|e| {
                    LoadError::Internal(format!("the compiled artifact does not load: {}", describe(&e)))
                })?;
                if let Some(cache) = &self.cache {
                    cache.put(digest, &artifact);
                }
                component
            }
        };
        Ok((component, false))
    }
}

/// A trial order that looks like any other: generated ids, a cart and an address drawn from realistic ones, a
/// plausible attempt number. There is no fixed marker to single it out, so behaving only on the trial is a gamble —
/// and the run-time limits cover every call anyway. Drawn from the component's own digest, so one component gets the
/// same trial on every process (its verdict does not depend on which one checks it) while no component can know its
/// own trial in advance.
fn reference_order(digest: &Digest) -> wit::Order {
    use rand::seq::IndexedRandom as _;
    use rand::{Rng as _, SeedableRng as _};
    const ADDRESSES: [(&str, &str, &str, &str); 4] = [
        ("123 Main St", "Springfield", "IL", "62701"),
        ("9 Ocean Ave", "San Francisco", "CA", "94105"),
        ("77 Elm St", "Portland", "OR", "97201"),
        ("400 Broad St", "Richmond", "VA", "23219"),
    ];
    let seed = u64::from_str_radix(&digest.hex()[..16], 16).unwrap_or_default();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (street, city, state, zip_code) = *ADDRESSES.choose(&mut rng).expect("addresses");
    let mut items = sample::items();
    for item in &mut items {
        item.quantity = rng.random_range(1..=5);
    }
    let order = OrderInput {
        order_id: format!("order-{:08x}", rng.random::<u32>()),
        payment_id: format!("pay-{:08x}", rng.random::<u32>()),
        items,
        address: crate::domain::Address {
            street: street.into(),
            city: city.into(),
            state: state.into(),
            zip_code: zip_code.into(),
        },
        options: OrderOptions::default(),
    };
    super::convert::order(&order, 1, rng.random_range(1..=3))
}

fn reference_charge(order: &wit::Order) -> wit::ChargeRequest {
    wit::ChargeRequest {
        payment_id: order.payment_id.clone(),
        order_id: order.order_id.clone(),
        amount_cents: order.items.iter().map(|i| u64::from(i.quantity) * i.unit_price_cents).sum(),
        attempt: order.attempt,
    }
}
