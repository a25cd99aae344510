//! What is known about a loaded plugin version: its identity (slot, digest), what it says it is, where it came
//! from and what it imports.

use std::time::SystemTime;

use super::{Digest, Slot};

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

/// Serializes a `SystemTime` as an RFC 3339 string.
mod humantime_serde_compat {
    use std::time::SystemTime;

    pub fn serialize<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_rfc3339_millis(*t))
    }
}
