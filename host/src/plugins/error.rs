//! Typed errors of the plugin runtime, each deciding its own retryability.

use std::time::Duration;

use super::Slot;

/// Why a plugin call did not produce a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    /// The plugin answered `retryable`: the same call may succeed later.
    #[error("{code}: {message}")]
    Retryable { code: String, message: String },
    /// The plugin answered `permanent`: the same call will never succeed.
    #[error("{code}: {message}")]
    Permanent { code: String, message: String },
    /// The call ran past its deadline and was interrupted.
    #[error("plugin call interrupted after its {}ms deadline", deadline.as_millis())]
    Timeout { deadline: Duration },
    /// The plugin tried to grow its memory past the cap.
    #[error("plugin exceeded its memory limit of {limit_bytes} bytes (asked for {requested_bytes})")]
    MemoryLimit { limit_bytes: usize, requested_bytes: usize },
    /// The plugin trapped (panic, `unreachable`, stack overflow, out-of-bounds access…).
    #[error("plugin trapped: {0}")]
    Trap(String),
    /// Every instance slot is in use: the host is saturated.
    #[error("no free plugin instance: {0}")]
    Busy(String),
    /// No version of the slot is loaded.
    #[error("no {0} plugin is loaded")]
    NotLoaded(Slot),
}

impl PluginError {
    /// Whether trying the same call again may succeed. Only a plugin's own `permanent` answer is final: traps, timeouts
    /// and memory hits may come from a bad input or a bad version, and an operator can swap the version between
    /// attempts.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, PluginError::Permanent { .. })
    }

    /// A stable machine-readable code: the plugin's own code, or the runtime's kind of failure.
    pub fn code(&self) -> &str {
        match self {
            PluginError::Retryable { code, .. } | PluginError::Permanent { code, .. } => code,
            PluginError::Timeout { .. } => "plugin_timeout",
            PluginError::MemoryLimit { .. } => "plugin_memory_limit",
            PluginError::Trap(_) => "plugin_trap",
            PluginError::Busy(_) => "plugin_busy",
            PluginError::NotLoaded(_) => "plugin_not_loaded",
        }
    }
}

/// Why a component was refused for a slot. The slot's active version is untouched by a refusal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The bytes are not WebAssembly at all.
    #[error("not a WebAssembly file: it does not start with the `\\0asm` magic bytes")]
    NotWasm,
    /// A core module was given where a component is needed.
    #[error(
        "this is a core WebAssembly module, not a component: build for wasm32-wasip2 (or wrap it with \
         `wasm-tools component new`)"
    )]
    CoreModule,
    /// The file exceeds the size a plugin may have.
    #[error("component is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    /// Compiling the component would take more time or memory than the budget allows.
    #[error("component refused: {0}")]
    CompileBudget(String),
    /// The bytes do not decode or compile (truncated, corrupt, unsupported features).
    #[error("invalid component: {0}")]
    Invalid(String),
    /// The component imports something the host does not offer.
    #[error("component imports what the host does not offer: {0}")]
    Imports(String),
    /// The component's exports do not match the slot's world.
    #[error("component does not implement the `{world}` world required by the {slot} slot: {reason}")]
    WrongWorld { slot: Slot, world: &'static str, reason: String },
    /// The component's `info()` failed.
    #[error("component's info() failed: {0}")]
    Info(PluginError),
    /// The component trapped, hung or blew its memory on a trial call with reference input.
    #[error("component failed its trial call on reference input: {0}")]
    Trial(PluginError),
    /// The file could not be read.
    #[error("cannot read component: {0}")]
    Io(String),
    /// The host could not judge the component (its compiler process could not run, a pipe broke): not a verdict on
    /// the component; the same load may succeed later.
    #[error("the host could not load the component: {0}")]
    Internal(String),
    /// Another version became active (an install or a rollback) while this one loaded: the newer decision stands.
    #[error("another version of the {0} slot became active while this one loaded; it was not activated")]
    Superseded(Slot),
}

impl LoadError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            LoadError::NotWasm => "not_wasm",
            LoadError::CoreModule => "not_a_component",
            LoadError::TooLarge { .. } => "too_large",
            LoadError::CompileBudget(_) => "compile_budget",
            LoadError::Invalid(_) => "invalid_component",
            LoadError::Imports(_) => "unsupported_imports",
            LoadError::WrongWorld { .. } => "wrong_world",
            LoadError::Info(_) => "info_failed",
            LoadError::Trial(_) => "trial_failed",
            LoadError::Io(_) => "io",
            LoadError::Internal(_) => "internal",
            LoadError::Superseded(_) => "superseded",
        }
    }

    /// Whether this says something about the component itself. A superseded load, a trial that found no free
    /// instance, or a host fault does not: the component is not recorded as refused and may be loaded again as is.
    pub fn is_verdict(&self) -> bool {
        !matches!(
            self,
            LoadError::Superseded(_)
                | LoadError::Internal(_)
                | LoadError::Trial(PluginError::Busy(_) | PluginError::NotLoaded(_))
        )
    }
}

/// Renders a wasmtime error with its whole chain on one line (the outermost context first).
pub(crate) fn describe(err: &wasmtime::Error) -> String {
    let mut out = String::new();
    for (i, cause) in err.chain().enumerate() {
        if i > 0 {
            out.push_str(": ");
        }
        out.push_str(&cause.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_permanent_is_final() {
        let permanent = PluginError::Permanent { code: "x".into(), message: "y".into() };
        assert!(!permanent.is_retryable());
        for retryable in [
            PluginError::Retryable { code: "x".into(), message: "y".into() },
            PluginError::Timeout { deadline: Duration::from_millis(5) },
            PluginError::MemoryLimit { limit_bytes: 1, requested_bytes: 2 },
            PluginError::Trap("t".into()),
            PluginError::Busy("b".into()),
            PluginError::NotLoaded(Slot::Payment),
        ] {
            assert!(retryable.is_retryable(), "{retryable:?}");
        }
    }
}
