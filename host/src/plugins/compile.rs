//! Compiling a component within a budget. Cranelift's time and memory grow with what a component holds (10,000
//! exports: seconds and ~150 MB; a JavaScript engine: 7–15 s and ~400 MB), and a compile cannot be interrupted once
//! it started. So the `order-host` binary compiles in a child process — itself, run as `order-host __compile-plugin`
//! — whose writable memory is capped with `RLIMIT_DATA` and which is killed when its time is up; the parent loads
//! the artifact the child writes to its standard output. A component past either budget is refused
//! ([`LoadError::CompileBudget`]) and nothing of its compile stays behind. The parent's threads only wait.
//!
//! Library users (and unit tests) may compile in process ([`Compiler::InProcess`]): no budget, no child.

use std::io::{Read as _, Write as _};
use std::os::unix::process::ExitStatusExt as _;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::LoadError;
use super::error::describe;

/// The first argument that turns the `order-host` binary into a compile child.
pub const CHILD_ARG: &str = "__compile-plugin";

/// An artifact is native code for what the component holds: far larger than the component is suspicious.
const MAX_ARTIFACT_FACTOR: usize = 16;

/// Where and within what a component is compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compiler {
    /// On the calling thread, without a budget: for library use and tests of other things.
    InProcess,
    /// In a child process running `program` (the `order-host` binary), refused past `timeout` or `memory_bytes`.
    Child {
        /// The `order-host` binary.
        program: PathBuf,
        /// Wall-clock time the compile may take (`PLUGIN_COMPILE_TIMEOUT`).
        timeout: Duration,
        /// Writable memory the compiling process may map (`PLUGIN_COMPILE_MEMORY`).
        memory_bytes: u64,
    },
}

/// Compiles `bytes` in a child process within the budget and returns the serialized artifact.
pub(crate) fn in_child(
    program: &std::path::Path,
    timeout: Duration,
    memory_bytes: u64,
    bytes: &[u8],
) -> Result<Vec<u8>, LoadError> {
    let fault = |what: &str, e: &dyn std::fmt::Display| LoadError::Internal(format!("{what}: {e}"));
    // Nothing of this process's environment (tokens, database URLs) reaches the child; it needs none of it. Its
    // compile threads are few, so that their stacks fit the memory budget on a machine of many cores.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let mut child = Command::new(program)
        .arg(CHILD_ARG)
        .arg(memory_bytes.to_string())
        .env_clear()
        .env("RAYON_NUM_THREADS", threads.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fault(&format!("cannot start the compiler process {}", program.display()), &e))?;

    // Each pipe is served by a thread of its own, so no order of events can leave both sides waiting on each other;
    // both outputs are drained to the end (a child never dies of a closed pipe) but only their first bytes are kept.
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = bytes.to_vec();
    std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let stderr = child.stderr.take().expect("piped stderr");
    let message = std::thread::spawn(move || String::from_utf8_lossy(&drain(stderr, 64 << 10).0).into_owned());
    let limit = (bytes.len().saturating_mul(MAX_ARTIFACT_FACTOR) as u64).min(memory_bytes);
    let stdout = child.stdout.take().expect("piped stdout");
    let (done, artifact) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(drain(stdout, usize::try_from(limit).unwrap_or(usize::MAX)));
    });

    let Ok((artifact, complete)) = artifact.recv_timeout(timeout) else {
        // Only this thread waits for the child, so it has not been reaped and the pid is still its own.
        let _ = child.kill();
        let _ = child.wait();
        return Err(LoadError::CompileBudget(format!(
            "compiling took longer than {timeout:?} (PLUGIN_COMPILE_TIMEOUT)"
        )));
    };
    let status = child.wait().map_err(|e| fault("waiting for the compiler process", &e))?;
    let message = message.join().unwrap_or_default();
    let message = message.trim();
    if status.code() == Some(CHILD_INVALID) {
        return Err(LoadError::Invalid(message.to_owned()));
    }
    if status.success() {
        if !complete {
            return Err(LoadError::CompileBudget(format!("the compiled artifact is larger than {limit} bytes")));
        }
        return Ok(artifact);
    }
    // Past RLIMIT_DATA an allocation fails and Rust aborts ("memory allocation of … failed"), or a thread cannot get
    // its stack. (The child's own messages only: a component's text reaches stderr with CHILD_INVALID, above.)
    let starved = [
        "memory allocation of",
        "out of memory",
        "Cannot allocate memory",
        "failed to spawn",
        "Resource temporarily unavailable",
    ];
    if status.signal() == Some(libc::SIGABRT) || starved.iter().any(|s| message.contains(s)) {
        return Err(LoadError::CompileBudget(format!(
            "compiling needed more than {memory_bytes} bytes of memory (PLUGIN_COMPILE_MEMORY)"
        )));
    }
    Err(fault("the compiler process failed", &format!("{status}: {message}")))
}

/// Reads `from` to its end, keeping at most `keep` bytes; says whether everything was kept.
fn drain(from: impl std::io::Read, keep: usize) -> (Vec<u8>, bool) {
    let mut from = std::io::BufReader::new(from);
    let mut kept = Vec::new();
    let _ = (&mut from).take(keep as u64).read_to_end(&mut kept);
    let rest = std::io::copy(&mut from, &mut std::io::sink()).unwrap_or(0);
    (kept, rest == 0)
}

/// The exit code of a child that compiled nothing because the component is invalid (its reason on stderr).
const CHILD_INVALID: i32 = 3;

/// The child's side: `order-host __compile-plugin <memory-budget-bytes>` reads a component from standard input and
/// writes the compiled artifact to standard output.
pub fn child_main(args: &[String]) -> ExitCode {
    let Some(budget) = args.first().and_then(|a| a.parse::<u64>().ok()) else {
        eprintln!("usage: order-host {CHILD_ARG} <memory-budget-bytes> < component.wasm > artifact");
        return ExitCode::from(2);
    };
    if let Err(e) = limit_data(budget) {
        eprintln!("cannot set the memory budget: {e}");
        return ExitCode::from(2);
    }
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut bytes) {
        eprintln!("cannot read the component: {e}");
        return ExitCode::from(2);
    }
    let engine = match wasmtime::Engine::new(&super::engine::compile_config()) {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("cannot create the wasmtime engine: {}", describe(&e));
            return ExitCode::from(2);
        }
    };
    match engine.precompile_component(&bytes) {
        Ok(artifact) => match std::io::stdout().lock().write_all(&artifact) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cannot write the artifact: {e}");
                ExitCode::from(2)
            }
        },
        Err(e) => {
            eprintln!("{}", describe(&e));
            ExitCode::from(CHILD_INVALID as u8)
        }
    }
}

/// Caps this process's writable private memory (heap and anonymous mappings): past it, allocations fail and the
/// process aborts, which the parent reports as over budget.
fn limit_data(bytes: u64) -> std::io::Result<()> {
    let limit = libc::rlimit { rlim_cur: bytes, rlim_max: bytes };
    #[allow(unsafe_code)]
    // SAFETY: setrlimit reads the struct we pass and changes only this process's limit.
    let result = unsafe { libc::setrlimit(libc::RLIMIT_DATA, &raw const limit) };
    if result == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}
