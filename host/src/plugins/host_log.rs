//! The host side of the `log` interface: forwards plugin log lines to `tracing`, capped per call.

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, WasmStr};

use super::bindings::wit::Level;
use super::limits::Limits;
use super::state::CallState;

/// Longest single line forwarded; the rest of a longer line is cut.
const MAX_LINE_BYTES: usize = 1024;

/// One call's log budget and the plugin it speaks for.
#[derive(Debug)]
pub(crate) struct LogSink {
    plugin: String,
    digest: String,
    lines_left: u32,
    bytes_left: usize,
    pub(crate) forwarded: u32,
    pub(crate) dropped: u64,
}

impl LogSink {
    pub(crate) fn new(plugin: &str, digest: &str, limits: &Limits) -> Self {
        LogSink {
            plugin: plugin.to_owned(),
            digest: digest.to_owned(),
            lines_left: limits.log_lines,
            bytes_left: limits.log_bytes,
            forwarded: 0,
            dropped: 0,
        }
    }

    /// No line would be forwarded any more: the rest of the call's lines are only counted, not read.
    fn exhausted(&self) -> bool {
        self.lines_left == 0 || self.bytes_left == 0
    }

    fn drop_line(&mut self) {
        if self.dropped == 0 {
            tracing::warn!(plugin = %self.plugin, digest = %self.digest, "plugin log cap reached; dropping further lines of this call");
        }
        self.dropped += 1;
    }

    fn write(&mut self, level: Level, message: &str) {
        let line = truncate(message, MAX_LINE_BYTES);
        if self.lines_left == 0 || self.bytes_left < line.len() {
            self.drop_line();
            return;
        }
        self.lines_left -= 1;
        self.bytes_left -= line.len();
        self.forwarded += 1;
        let (plugin, digest) = (&self.plugin, &self.digest);
        match level {
            Level::Trace => tracing::trace!(target: "plugin", plugin, digest, "{line}"),
            Level::Debug => tracing::debug!(target: "plugin", plugin, digest, "{line}"),
            Level::Info => tracing::info!(target: "plugin", plugin, digest, "{line}"),
            Level::Warn => tracing::warn!(target: "plugin", plugin, digest, "{line}"),
            Level::Error => tracing::error!(target: "plugin", plugin, digest, "{line}"),
        }
    }
}

impl Drop for LogSink {
    fn drop(&mut self) {
        if self.dropped > 0 {
            tracing::warn!(plugin = %self.plugin, digest = %self.digest, dropped = self.dropped, "plugin log lines dropped");
        }
    }
}

/// Adds `order:plugins/log` to `linker`. A UTF-8 message (what every toolchain here emits) is read where it lies in
/// the guest's memory and only the part that is forwarded (at most [`MAX_LINE_BYTES`]) is copied; a UTF-16 one is
/// decoded first. How long a line may be at all is bounded by the call's hostcall fuel (`Limits::hostcall_fuel`).
pub(crate) fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    linker.instance("order:plugins/log@0.1.0")?.func_wrap(
        "log",
        |mut store: StoreContextMut<'_, CallState>, (level, message): (Level, WasmStr)| {
            if store.data().log.exhausted() {
                store.data_mut().log.drop_line();
                return Ok(());
            }
            let line = truncate(&message.to_str(&store)?, MAX_LINE_BYTES).to_owned();
            store.data_mut().log.write(level, &line);
            Ok(())
        },
    )
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_lines_and_bytes() {
        let limits = Limits { log_lines: 3, log_bytes: 10, ..Limits::default() };
        let mut sink = LogSink::new("p", "d", &limits);
        sink.write(Level::Info, "12345");
        sink.write(Level::Info, "12345");
        sink.write(Level::Info, "1");
        assert_eq!((sink.forwarded, sink.dropped), (2, 1), "byte cap");

        let mut sink = LogSink::new("p", "d", &Limits { log_lines: 2, ..Limits::default() });
        for _ in 0..5 {
            sink.write(Level::Warn, "x");
        }
        assert_eq!((sink.forwarded, sink.dropped), (2, 3), "line cap");
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
