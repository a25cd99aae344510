//! `order-host plugins …`: check a component against a slot, publish it to the shared store or roll a slot back (for
//! every process), show which process runs what, list what the plugins directory holds, hand out the WIT, scaffold a
//! plugin project.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::scaffold::{self, Lang};
use crate::config::Config;
use crate::plugins::{PluginRuntime, Registry, Slot, read_component};
use crate::rollout::{Rollout, RolloutError};

/// Plugin subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum PluginsCommand {
    /// Type-checks a component against a slot's world and prints its name, version and sha256 digest.
    Check {
        /// The slot it is meant for: validation, payment or shipping.
        #[arg(long)]
        slot: Slot,
        /// The component file.
        file: PathBuf,
    },
    /// Checks a component like `check`, then publishes it to the shared store (`DATABASE_URL`): every process
    /// switches to it.
    Publish {
        /// The slot: validation, payment or shipping.
        #[arg(long)]
        slot: Slot,
        /// Publish as a canary: this share (1–99 %) of new orders gets it, chosen from the order id and fixed for
        /// the order's life; `promote` makes it stable, `rollback` ends it.
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=99))]
        canary: Option<u8>,
        /// The component file.
        file: PathBuf,
    },
    /// Makes the slot's live canary its stable version, for every process.
    Promote {
        /// The slot: validation, payment or shipping.
        #[arg(long)]
        slot: Slot,
    },
    /// Makes the slot's previous version active again, for every process.
    Rollback {
        /// The slot: validation, payment or shipping.
        #[arg(long)]
        slot: Slot,
        /// Only if this release (its id in `plugins status`) is still the slot's newest: a retried rollback then
        /// never undoes the one it retries.
        #[arg(long)]
        expect: Option<i64>,
    },
    /// Per slot: the published version, its history, and which process runs which digest; exit 1 if the processes
    /// have not all converged on the published versions.
    Status,
    /// Lists what `PLUGINS_DIR` holds and what would be active.
    List,
    /// Writes the WIT package this host was built with (`types.wit`, `worlds.wit`): what a plugin is built against.
    Wit {
        /// The directory to write it to (created if missing); without it, the files go to standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Scaffolds a plugin project for a slot that builds outside this repository and passes `plugins check` as
    /// generated: its own copy of the WIT, a build script, a README, rules with a unit test.
    New {
        /// The slot it is for: validation, payment or shipping.
        #[arg(long)]
        slot: Slot,
        /// The language: rust, python or js.
        #[arg(long, value_enum)]
        lang: Lang,
        /// The project's name (a Cargo/npm package name); defaults to the directory's name.
        #[arg(long)]
        name: Option<String>,
        /// The directory to create; it must not exist yet, or be empty.
        dir: PathBuf,
    },
}

/// The WIT package compiled into this binary, file by file.
pub const WIT_FILES: [(&str, &str); 2] =
    [("types.wit", include_str!("../../../wit/types.wit")), ("worlds.wit", include_str!("../../../wit/worlds.wit"))];

impl PluginsCommand {
    /// Whether the command works on the shared store (and so needs the database and an async runtime).
    pub fn uses_store(&self) -> bool {
        matches!(
            self,
            PluginsCommand::Publish { .. }
                | PluginsCommand::Promote { .. }
                | PluginsCommand::Rollback { .. }
                | PluginsCommand::Status
        )
    }
}

/// Runs a subcommand that works on the shared store ([`PluginsCommand::uses_store`]).
pub async fn run_shared(config: &Config, command: &PluginsCommand, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let store = crate::store::open(&config.database_url).await?;
    match command {
        PluginsCommand::Publish { slot, canary, file } => {
            let runtime = PluginRuntime::new(config.runtime(false)).map_err(anyhow::Error::msg)?;
            let Some(bytes) = read_or_refuse(file, runtime.config().max_component_bytes, out)? else {
                return Ok(ExitCode::FAILURE);
            };
            let rollout = Rollout::publisher(store, Registry::new(runtime));
            match rollout.publish(*slot, bytes, &file.display().to_string(), *canary).await {
                Ok(meta) => {
                    let share = canary.map_or_else(String::new, |p| format!(" as a canary for {p} % of new orders"));
                    writeln!(
                        out,
                        "published: {} {} {} for the {slot} slot{share}",
                        meta.name, meta.version, meta.digest
                    )?;
                    writeln!(out, "every process switches to it; see `order-host plugins status`")?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(RolloutError::Store(e)) => Err(e.into()),
                Err(e) => {
                    writeln!(out, "refused: {} for the {slot} slot: {e}", file.display())?;
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        PluginsCommand::Promote { slot } => {
            let runtime = PluginRuntime::new(config.runtime(false)).map_err(anyhow::Error::msg)?;
            let promoted = Rollout::publisher(store, Registry::new(runtime)).promote(*slot).await;
            released(promoted, &format!("promoted: the {slot} slot runs"), "for every order", out)
        }
        PluginsCommand::Rollback { slot, expect } => {
            let runtime = PluginRuntime::new(config.runtime(false)).map_err(anyhow::Error::msg)?;
            let rolled_back = Rollout::publisher(store, Registry::new(runtime)).rollback(*slot, *expect).await;
            released(rolled_back, &format!("rolled back: the {slot} slot runs"), "again", out)
        }
        PluginsCommand::Status => status(store.as_ref(), config.plugin_process_ttl, out).await,
        _ => run(config, command, out),
    }
}

/// Reads a component file for a command, saying why it cannot be read (`None`: refused, reported on `out`).
fn read_or_refuse(file: &Path, limit: usize, out: &mut impl Write) -> anyhow::Result<Option<Vec<u8>>> {
    match read_component(file, limit) {
        Ok(Some(bytes)) => Ok(Some(bytes)),
        Ok(None) => {
            writeln!(out, "refused: cannot read {}: it does not exist", file.display())?;
            Ok(None)
        }
        Err(e) => {
            writeln!(out, "refused: {}: {e}", file.display())?;
            Ok(None)
        }
    }
}

/// Reports the release a promote or rollback made (`{done} <name> <version> <digest> {tail}`), or why it was refused;
/// a database failure is an error.
fn released(
    result: Result<crate::store::ReleaseRow, RolloutError>,
    done: &str,
    tail: &str,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    match result {
        Ok(release) => {
            writeln!(out, "{done} {} {} {} {tail}", release.name, release.version, release.digest)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(RolloutError::Store(crate::store::StoreError::Conflict(why))) => {
            writeln!(out, "refused: {why}")?;
            Ok(ExitCode::FAILURE)
        }
        Err(RolloutError::Store(e)) => Err(e.into()),
        Err(e) => {
            writeln!(out, "refused: {e}")?;
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn status(
    store: &dyn crate::store::Store,
    ttl: std::time::Duration,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let since = chrono::Utc::now() - chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
    let fleet = store.processes(since).await?;
    let mut converged = true;
    for slot in Slot::ALL {
        let releases = store.plugin_releases(slot.as_str(), 5).await?;
        let Some(active) = releases.first() else {
            writeln!(out, "{slot}: nothing published")?;
            continue;
        };
        writeln!(out, "{slot}: {} {} {}", active.name, active.version, active.digest)?;
        for r in &releases {
            writeln!(
                out,
                "  release {:<5} {:<8} {} {} {}  from {}  at {}",
                r.id,
                r.action.as_str(),
                r.name,
                r.version,
                r.digest,
                r.source,
                r.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            )?;
        }
        for p in &fleet {
            let runs = p.digests.get(slot.as_str()).map_or("(nothing)", String::as_str);
            let mark = if runs == active.digest { "ok" } else { "behind" };
            converged &= runs == active.digest;
            write!(out, "  process {} ({}, {}) runs {runs} [{mark}]", p.process_id, p.role, p.host)?;
            if let Some(refusal) = p.refusals.get(slot.as_str()) {
                write!(out, "; refused {}: {}", refusal.digest, refusal.error)?;
            }
            writeln!(out)?;
        }
    }
    if fleet.is_empty() {
        writeln!(out, "no process reported within {}: NOT converged", humantime::format_duration(ttl))?;
        converged = false;
    } else {
        writeln!(out, "{} process(es); {}", fleet.len(), if converged { "converged" } else { "NOT converged" })?;
    }
    Ok(if converged { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Runs a plugin subcommand, writing to `out`; refusals are reported and turn into a failing exit code.
pub fn run(config: &Config, command: &PluginsCommand, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let runtime = || PluginRuntime::new(config.runtime(false)).map_err(anyhow::Error::msg);
    match command {
        PluginsCommand::Publish { .. }
        | PluginsCommand::Promote { .. }
        | PluginsCommand::Rollback { .. }
        | PluginsCommand::Status => {
            anyhow::bail!("this plugins command needs the database: run it through run_shared")
        }
        PluginsCommand::Check { slot, file } => check(&runtime()?, *slot, file, out),
        PluginsCommand::List => list(&runtime()?, &config.plugins_dir, out),
        PluginsCommand::Wit { out: dir } => wit(dir.as_deref(), out),
        PluginsCommand::New { slot, lang, name, dir } => new(*slot, *lang, name.as_deref(), dir, out),
    }
}

fn new(slot: Slot, lang: Lang, name: Option<&str>, dir: &Path, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let from_dir = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let project = scaffold::files(slot, lang, name.unwrap_or(from_dir)).and_then(|files| scaffold::write(dir, &files));
    if let Err(e) = project {
        writeln!(out, "refused: {e}")?;
        return Ok(ExitCode::FAILURE);
    }
    writeln!(out, "created {}: a {lang} plugin for the {slot} slot (world {})", dir.display(), slot.world())?;
    writeln!(
        out,
        "next:    cd {} && ./build.sh && order-host plugins check --slot {slot} dist/{}",
        dir.display(),
        slot.file_name()
    )?;
    writeln!(out, "see:     {}/README.md", dir.display())?;
    Ok(ExitCode::SUCCESS)
}

fn wit(dir: Option<&Path>, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let Some(dir) = dir else {
        for (name, text) in WIT_FILES {
            writeln!(out, "// ---- {name} ----")?;
            out.write_all(text.as_bytes())?;
        }
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    for (name, text) in WIT_FILES {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        writeln!(out, "wrote {}", path.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn check(
    runtime: &std::sync::Arc<PluginRuntime>,
    slot: Slot,
    file: &Path,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let Some(bytes) = read_or_refuse(file, runtime.config().max_component_bytes, out)? else {
        return Ok(ExitCode::FAILURE);
    };
    match runtime.load(slot, &bytes, &file.display().to_string()).and_then(|p| runtime.vet(&p).map(|()| p)) {
        Ok(plugin) => {
            let meta = plugin.meta();
            writeln!(out, "ok: {} fits the {slot} slot (world {})", file.display(), slot.world())?;
            writeln!(out, "name:    {}", meta.name)?;
            writeln!(out, "version: {}", meta.version)?;
            writeln!(out, "digest:  {}", meta.digest)?;
            writeln!(out, "size:    {} bytes", meta.size_bytes)?;
            writeln!(out, "imports: {}", meta.imports.join(", "))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            writeln!(out, "refused: {} for the {slot} slot: {e}", file.display())?;
            Ok(ExitCode::FAILURE)
        }
    }
}

fn list(runtime: &std::sync::Arc<PluginRuntime>, dir: &Path, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let registry = Registry::new(std::sync::Arc::clone(runtime));
    writeln!(out, "plugins directory: {}", dir.display())?;
    let loaded = registry.load_dir(dir);
    let mut ok = true;
    for slot in Slot::ALL {
        match loaded.iter().find(|(s, _)| *s == slot).map(|(_, r)| r) {
            Some(Ok(meta)) => writeln!(
                out,
                "{slot:<10} active   {:<16} {:<8} {}  ({} bytes)",
                meta.name, meta.version, meta.digest, meta.size_bytes
            )?,
            Some(Err(e)) => {
                ok = false;
                writeln!(out, "{slot:<10} refused  {e}")?;
            }
            None => {
                ok = false;
                writeln!(out, "{slot:<10} missing  no {} in the directory", slot.file_name())?;
            }
        }
    }
    let mut others: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| Slot::from_file_name(n).is_none())
        .collect();
    others.sort();
    if !others.is_empty() {
        writeln!(out, "also present (not loaded): {}", others.join(", "))?;
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
