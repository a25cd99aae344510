//! Follows the plugins directory: when `<slot>.wasm` appears or changes, the slot is reported, debounced so that a
//! burst of writes becomes one report. What to do with the file (check and publish it) is the caller's business.
//!
//! Publishers should write a temporary file and rename it into place: only `<slot>.wasm` itself is reported.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::Slot;

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

/// Watches `dir` (created if missing); the receiver hears each slot whose file changed, once the directory has been
/// quiet for `debounce`. Must run inside a Tokio runtime.
pub fn watch(dir: &Path, debounce: Duration) -> Result<(WatchHandle, mpsc::UnboundedReceiver<Slot>), String> {
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
    let (out, changed) = mpsc::unbounded_channel();
    let task = tokio::spawn(debounced(rx, out, debounce));
    Ok((WatchHandle { _watcher: watcher, task }, changed))
}

async fn debounced(mut rx: mpsc::UnboundedReceiver<Slot>, out: mpsc::UnboundedSender<Slot>, debounce: Duration) {
    while let Some(first) = rx.recv().await {
        let mut changed = BTreeSet::from([first]);
        // Keep collecting until the directory has been quiet for `debounce`.
        while let Ok(Some(slot)) = tokio::time::timeout(debounce, rx.recv()).await {
            changed.insert(slot);
        }
        for slot in changed {
            if out.send(slot).is_err() {
                return;
            }
        }
    }
}
