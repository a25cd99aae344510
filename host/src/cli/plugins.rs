//! `order-host plugins …`: check a component against a slot, list what the plugins directory holds, hand out the WIT,
//! scaffold a plugin project.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::scaffold::{self, Lang};
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

/// Runs a plugin subcommand, writing to `out`; refusals are reported and turn into a failing exit code.
pub fn run(config: &Config, command: &PluginsCommand, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let runtime = || PluginRuntime::new(config.runtime(false)).map_err(anyhow::Error::msg);
    match command {
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
