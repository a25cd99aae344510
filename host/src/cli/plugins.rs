//! `order-host plugins …`: check a component against a slot, list what the plugins directory holds.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::Config;
use crate::plugins::{PluginRuntime, Registry, Slot, read_component};

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
    /// Lists what `PLUGINS_DIR` holds and what would be active.
    List,
}

/// Runs a plugin subcommand, writing to `out`; refusals are reported and turn into a failing exit code.
pub fn run(config: &Config, command: &PluginsCommand, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let runtime = PluginRuntime::new(config.runtime(false)).map_err(anyhow::Error::msg)?;
    match command {
        PluginsCommand::Check { slot, file } => check(&runtime, *slot, file, out),
        PluginsCommand::List => list(&runtime, &config.plugins_dir, out),
    }
}

fn check(
    runtime: &std::sync::Arc<PluginRuntime>,
    slot: Slot,
    file: &Path,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let bytes = match read_component(file, runtime.config().max_component_bytes) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            writeln!(out, "refused: cannot read {}: it does not exist", file.display())?;
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => {
            writeln!(out, "refused: {}: {e}", file.display())?;
            return Ok(ExitCode::FAILURE);
        }
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
