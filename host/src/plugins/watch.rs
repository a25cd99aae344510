//! Follows the plugins directory: when `<slot>.wasm` appears or changes, the new version is loaded and swapped in.
//!
//! Publishers should write a temporary file and rename it into place; events are debounced so a burst of writes
//! becomes one load, and a file whose digest is already active (or was just refused) is skipped.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::{Digest, Registry, Slot};

/// Stops watching when dropped.
#[derive(Debug)]
pub struct WatchHandle {
    _watcher: notify::RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Watches `dir` (created if missing) and installs changed slot files into `registry`. Must run inside a Tokio
/// runtime.
pub fn watch(registry: Arc<Registry>, dir: &Path, debounce: Duration) -> Result<WatchHandle, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create plugins directory {}: {e}", dir.display()))?;
    let (tx, rx) = mpsc::unbounded_channel::<Slot>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
        Ok(event) => {
            for slot in event.paths.iter().filter_map(|p| p.file_name()?.to_str().and_then(Slot::from_file_name)) {
                let _ = tx.send(slot);
            }
        }
        Err(e) => tracing::warn!(error = %e, "plugins directory watch error"),
    })
    .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    watcher.watch(dir, RecursiveMode::NonRecursive).map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    let task = tokio::spawn(follow(registry, dir.to_path_buf(), rx, debounce));
    Ok(WatchHandle { _watcher: watcher, task })
}

async fn follow(registry: Arc<Registry>, dir: PathBuf, mut rx: mpsc::UnboundedReceiver<Slot>, debounce: Duration) {
    while let Some(first) = rx.recv().await {
        let mut changed = BTreeSet::from([first]);
        // Debounce: keep collecting until the directory has been quiet for `debounce`.
        while let Ok(Some(slot)) = tokio::time::timeout(debounce, rx.recv()).await {
            changed.insert(slot);
        }
        for slot in changed {
            let registry = Arc::clone(&registry);
            let path = dir.join(slot.file_name());
            let _ = tokio::task::spawn_blocking(move || reload(&registry, slot, &path)).await;
        }
    }
}

fn reload(registry: &Registry, slot: Slot, path: &Path) {
    // Only `<slot>.wasm` itself is looked at: temporary files of a publisher never match a slot name, and a symbolic
    // link or an oversized file is refused before it is read.
    let bytes = match super::read_component(path, registry.runtime().config().max_component_bytes) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            tracing::info!(%slot, path = %path.display(), "plugin file removed; the active version stays");
            return;
        }
        Err(e) => {
            tracing::warn!(%slot, path = %path.display(), error = %e, "plugin file refused before reading");
            return;
        }
    };
    let digest = Digest::of(&bytes);
    let active = registry.active(slot).map(|p| p.meta().digest.clone());
    if active.as_ref() == Some(&digest) || registry.last_refused_digest(slot).as_ref() == Some(&digest) {
        return;
    }
    // Refusals are logged and published by the registry itself.
    let _ = registry.install(slot, &bytes, &path.display().to_string());
}
