//! Turning bytes into a [`LoadedPlugin`]: decode, check the world, compile (or reuse the cache), pre-instantiate and
//! ask the plugin who it is. Any failure is a [`LoadError`] that says why.

use std::sync::Arc;
use std::time::SystemTime;

use wasmtime::component::Component;

use super::bindings::payment::PaymentProcessorPre;
use super::bindings::shipper::ShipperPre;
use super::bindings::validator::ValidatorPre;
use super::bindings::wit;
use super::call::{Exports, LoadedPlugin};
use super::error::describe;
use super::{Digest, LoadError, PluginError, PluginRuntime, Slot};

/// What is known about a loaded plugin version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PluginMeta {
    /// The slot it was loaded for.
    pub slot: Slot,
    /// sha256 of the component bytes: the version's identity.
    pub digest: Digest,
    /// The name its `info()` reports.
    pub name: String,
    /// The version its `info()` reports.
    pub version: String,
    /// Size of the component file in bytes.
    pub size_bytes: usize,
    /// Where it came from: a file path or `upload`.
    pub source: String,
    /// Whether the compiled code came from the artifact cache rather than a fresh compilation.
    pub from_cache: bool,
    /// The interfaces the component imports (e.g. `wasi:io/streams@0.2.6`, `order:plugins/log@0.1.0`).
    pub imports: Vec<String>,
    /// When it was loaded.
    #[serde(with = "humantime_serde_compat")]
    pub loaded_at: SystemTime,
}

/// `\0asm` followed by the core-module version (1) or the component-model layer (0x0d 0x00 0x01 0x00).
const MAGIC: &[u8; 4] = b"\0asm";
const CORE_VERSION: [u8; 4] = [1, 0, 0, 0];

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
        let imports = component.component_type().imports(&self.engine).map(|(name, _)| name.to_owned()).collect();
        let pre = self.linker.instantiate_pre(&component).map_err(|e| LoadError::Imports(describe(&e)))?;
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
        };
        let info = plugin.info().map_err(LoadError::Info)?;
        let meta = Arc::make_mut(&mut plugin.meta);
        meta.name = info.name;
        meta.version = info.version;
        Ok(plugin)
    }

    /// Calls each of the version's exports once on reference input, under the slot's limits. Any answer — a value,
    /// a retryable or a permanent error — is fine; a trap, a deadline hit or a memory-limit hit refuses the version
    /// before it can take over a slot. Plugins have no I/O, so the trial has no effects.
    pub fn vet(&self, plugin: &LoadedPlugin) -> Result<(), LoadError> {
        let order = reference_order();
        let result = match &plugin.exports {
            Exports::Validator(_) => plugin.validate(&order).map(drop),
            Exports::Payment(_) => plugin.charge(&reference_charge()).and_then(|receipt| {
                plugin
                    .refund(&wit::RefundRequest {
                        payment_id: receipt.payment_id,
                        transaction_id: receipt.transaction_id,
                        amount_cents: receipt.amount_cents,
                        reason: "trial".into(),
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
            _ => Ok(()),
        }
    }

    /// Compiles `bytes`, or deserializes the verified cached artifact of the same digest.
    fn compile(&self, digest: &Digest, bytes: &[u8]) -> Result<(Component, bool), LoadError> {
        if let Some(artifact) = self.cache.as_ref().and_then(|cache| cache.get(digest)) {
            // SAFETY: the artifact was produced by `Component::serialize` for an engine with the same compatibility
            // hash (it is part of the file name), lives in a directory only this user can write, and its sha256 was
            // checked just now, so these are the bytes we wrote.
            #[allow(unsafe_code)]
            match unsafe { Component::deserialize(&self.engine, &artifact) } {
                Ok(component) => return Ok((component, true)),
                Err(e) => {
                    tracing::warn!(%digest, error = %describe(&e), "cached plugin artifact refused; recompiling");
                }
            }
        }
        let component = Component::new(&self.engine, bytes).map_err(|e| LoadError::Invalid(describe(&e)))?;
        if let Some(cache) = &self.cache {
            match component.serialize() {
                Ok(artifact) => cache.put(digest, &artifact),
                Err(e) => tracing::warn!(%digest, error = %describe(&e), "cannot serialize compiled plugin"),
            }
        }
        Ok((component, false))
    }
}

/// The order every trial call uses: a plain, valid two-line order.
fn reference_order() -> wit::Order {
    wit::Order {
        order_id: "trial-order".into(),
        payment_id: "trial-payment".into(),
        items: vec![
            wit::Item { sku: "SKU-001".into(), quantity: 2, unit_price_cents: 1500 },
            wit::Item { sku: "SKU-002".into(), quantity: 1, unit_price_cents: 1200 },
        ],
        address: wit::Address {
            street: "123 Main St".into(),
            city: "Springfield".into(),
            state: "IL".into(),
            zip_code: "62701".into(),
        },
        shipment: 1,
        attempt: 1,
    }
}

fn reference_charge() -> wit::ChargeRequest {
    wit::ChargeRequest {
        payment_id: "trial-payment".into(),
        order_id: "trial-order".into(),
        amount_cents: 4200,
        attempt: 1,
    }
}

/// Serializes a `SystemTime` as an RFC 3339 string.
mod humantime_serde_compat {
    use std::time::SystemTime;

    pub fn serialize<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_rfc3339_millis(*t))
    }
}
