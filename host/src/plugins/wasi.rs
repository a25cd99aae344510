//! The WASI a plugin sees: every interface the language toolchains import, none of them granting anything. A
//! component built with default flags by componentize-py (filesystem, sockets) or jco (`wasi:http`) links and runs;
//! what it tries at run time fails the way an empty sandbox would:
//!
//! - `wasi:filesystem`: no preopened directory, so there is no file to open;
//! - `wasi:sockets`: TCP, UDP and name lookups are denied by the context;
//! - `wasi:http`: every outgoing request is denied (`HTTP-request-denied`);
//! - `wasi:cli`: no arguments, no environment, empty stdin, stdout and stderr discarded;
//! - `wasi:io/poll`: waits end at the call's deadline (see `deadline`);
//! - clocks and randomness as WASI defines them.

use wasmtime::component::{HasData, Linker, ResourceTable};

use super::deadline::BoundedPoll;
use super::state::CallState;

/// Interfaces the linker offers, by `namespace:package/interface` (any 0.2.x version of WASI satisfies a component
/// built against another 0.2.x, by semver), for telling an author in plain words what is missing.
pub(crate) const OFFERED: [&str; 31] = [
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
    "wasi:sockets/network",
    "wasi:sockets/instance-network",
    "wasi:sockets/tcp",
    "wasi:sockets/tcp-create-socket",
    "wasi:sockets/udp",
    "wasi:sockets/udp-create-socket",
    "wasi:sockets/ip-name-lookup",
    "wasi:http/types",
    "wasi:http/outgoing-handler",
    "order:plugins/log",
    // Types only: nothing to implement.
    "order:plugins/types",
];

/// Adds every WASI interface of [`OFFERED`] (all but the host's own `log` and `types`) to `linker`.
pub(crate) fn add_to_linker(l: &mut Linker<CallState>) -> wasmtime::Result<()> {
    use wasmtime_wasi::WasiView;
    use wasmtime_wasi::cli::{WasiCli, WasiCliView};
    use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
    use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
    use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, random, sockets, sync};
    use wasmtime_wasi::random::WasiRandom;
    use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsView};

    clocks::wall_clock::add_to_linker::<_, WasiClocks>(l, CallState::clocks)?;
    clocks::monotonic_clock::add_to_linker::<_, WasiClocks>(l, CallState::clocks)?;
    random::random::add_to_linker::<_, WasiRandom>(l, |s| s.ctx().ctx.random())?;
    random::insecure::add_to_linker::<_, WasiRandom>(l, |s| s.ctx().ctx.random())?;
    random::insecure_seed::add_to_linker::<_, WasiRandom>(l, |s| s.ctx().ctx.random())?;
    cli::exit::add_to_linker::<_, WasiCli>(l, CallState::cli)?;
    cli::environment::add_to_linker::<_, WasiCli>(l, CallState::cli)?;
    cli::stdin::add_to_linker::<_, WasiCli>(l, CallState::cli)?;
    cli::stdout::add_to_linker::<_, WasiCli>(l, CallState::cli)?;
    cli::stderr::add_to_linker::<_, WasiCli>(l, CallState::cli)?;
    cli::terminal_input::add_to_linker::<_, WasiCli>(l, CallState::cli)?;
    cli::terminal_output::add_to_linker::<_, WasiCli>(l, CallState::cli)?;
    cli::terminal_stdin::add_to_linker::<_, WasiCli>(l, CallState::cli)?;
    cli::terminal_stdout::add_to_linker::<_, WasiCli>(l, CallState::cli)?;
    cli::terminal_stderr::add_to_linker::<_, WasiCli>(l, CallState::cli)?;
    wasmtime_wasi_io::bindings::wasi::io::error::add_to_linker::<_, Io>(l, |s| s.ctx().table)?;
    // Waits end at the call's deadline (the stock binding would block as long as the guest asks).
    sync::io::poll::add_to_linker::<_, BoundedPoll>(l, CallState::bounded_poll)?;
    sync::io::streams::add_to_linker::<_, Io>(l, |s| s.ctx().table)?;
    // No preopened directory: `get-directories` is empty and no descriptor can ever be had.
    filesystem::preopens::add_to_linker::<_, WasiFilesystem>(l, CallState::filesystem)?;
    sync::filesystem::types::add_to_linker::<_, WasiFilesystem>(l, CallState::filesystem)?;
    // TCP, UDP and name lookups are denied by the context (`allow_tcp(false)`, …).
    let network = sockets::network::LinkOptions::default();
    sockets::network::add_to_linker::<_, WasiSockets>(l, &network, CallState::sockets)?;
    sockets::instance_network::add_to_linker::<_, WasiSockets>(l, CallState::sockets)?;
    sockets::tcp_create_socket::add_to_linker::<_, WasiSockets>(l, CallState::sockets)?;
    sockets::ip_name_lookup::add_to_linker::<_, WasiSockets>(l, CallState::sockets)?;
    sync::sockets::tcp::add_to_linker::<_, WasiSockets>(l, CallState::sockets)?;
    sync::sockets::udp::add_to_linker::<_, WasiSockets>(l, CallState::sockets)?;
    sync::sockets::udp_create_socket::add_to_linker::<_, WasiSockets>(l, CallState::sockets)?;
    // Every outgoing request is denied by the hooks (`NoNetwork`).
    wasmtime_wasi_http::p2::add_only_http_to_linker_sync(l)?;
    Ok(())
}

/// The resource table, as the I/O interfaces see the store.
struct Io;

impl HasData for Io {
    type Data<'a> = &'a mut ResourceTable;
}

/// The interfaces among `imports` (names as a component lists them, `wasi:http/types@0.2.10`) that the host does
/// not offer, for a refusal that says so in plain words.
pub(crate) fn missing<'a>(imports: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    imports
        .into_iter()
        .filter(|name| {
            let unversioned = name.split('@').next().unwrap_or(name);
            !OFFERED.contains(&unversioned)
        })
        .collect()
}

/// `wasi:http`'s embedder hooks: every outgoing request is denied before anything is resolved or connected.
#[derive(Debug, Default)]
pub(crate) struct NoNetwork;

type Body = wasmtime_wasi_http::WasiBody;
type Pending = Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>;

impl wasmtime_wasi_http::WasiHttpHooks for NoNetwork {
    fn send_request(
        &mut self,
        _request: http::Request<Body>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _done: Pending,
    ) -> Box<dyn Future<Output = Result<(http::Response<Body>, Pending), wasmtime_wasi_http::Error>> + Send> {
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_what_is_not_offered_whatever_its_version() {
        let imports = ["wasi:http/types@0.2.10", "wasi:filesystem/types@0.2.12", "wasi:keyvalue/store@0.2.0-draft"];
        assert_eq!(missing(imports), ["wasi:keyvalue/store@0.2.0-draft"]);
        assert!(missing(["order:plugins/log@0.1.0", "wasi:cli/stdout@0.2.6"]).is_empty());
    }
}
