//! `order-host plugins new`: a plugin project that builds outside this repository and passes `plugins check` as
//! generated.
//!
//! The templates are files under `host/templates/plugin/` (one set per language, the world-specific sources per slot),
//! compiled into the binary. What must agree with the rest of the repository is taken from it rather than written
//! twice: the WIT package, the Rust guests' `wit-bindgen` version (`plugins/Cargo.toml`), and the JavaScript and Python
//! toolchain pins (the examples' `package.json`, `package-lock.json`, `requirements.txt`), which CI builds and tests.

use std::fmt;
use std::path::{Path, PathBuf};

use super::plugins::WIT_FILES;
use crate::plugins::Slot;

/// The languages a project can be scaffolded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust with wit-bindgen: `cargo build --target wasm32-wasip2` or `cargo component build`.
    Rust,
    /// Python with componentize-py.
    Python,
    /// JavaScript with jco componentize.
    Js,
}

impl Lang {
    /// Every language, in the order the docs list them.
    pub const ALL: [Lang; 3] = [Lang::Rust, Lang::Python, Lang::Js];

    fn display_name(self) -> &'static str {
        match self {
            Lang::Rust => "Rust",
            Lang::Python => "Python",
            Lang::Js => "JavaScript",
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
        })
    }
}

/// One file of a scaffolded project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Relative to the project's directory.
    pub path: PathBuf,
    pub text: String,
    /// A script: written with mode 0755.
    pub executable: bool,
}

/// Why a project cannot be scaffolded.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(
        "`{0}` is not a usable project name: use 1–64 lower-case letters, digits and '-', starting with a letter, \
         and not a Rust keyword or a standard crate's name (pass --name to choose one other than the directory's)"
    )]
    BadName(String),
    #[error("{0} already exists and is not empty: scaffold into a new or empty directory")]
    NotEmpty(PathBuf),
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// Selects the template of `slot` among a file's three variants (validation, payment, shipping).
macro_rules! per_slot {
    ($lang:literal, $file:literal) => {
        [
            include_str!(concat!("../../templates/plugin/", $lang, "/validation/", $file)),
            include_str!(concat!("../../templates/plugin/", $lang, "/payment/", $file)),
            include_str!(concat!("../../templates/plugin/", $lang, "/shipping/", $file)),
        ]
    };
}

const README: &str = include_str!("../../templates/plugin/README.md");
const RUSTFMT: &str = include_str!("../../../plugins/rustfmt.toml");
const PLUGINS_MANIFEST: &str = include_str!("../../../plugins/Cargo.toml");
const JS_PACKAGE: &str = include_str!("../../../examples/plugins/payment-js/package.json");
const JS_LOCK: &str = include_str!("../../../examples/plugins/payment-js/package-lock.json");
const JS_EXAMPLE_NAME: &str = "payment-js";
const PYTHON_REQUIREMENTS: &str = include_str!("../../../examples/plugins/payment-python/requirements.txt");

/// Names Cargo, rustc or npm refuse or that shadow what a project uses: Rust keywords and standard crates, the
/// crates a scaffold depends on, npm's reserved names.
const RESERVED_NAMES: &[&str] = &[
    "alloc",
    "as",
    "async",
    "await",
    "break",
    "const",
    "continue",
    "core",
    "crate",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "node-modules",
    "proc-macro",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "std",
    "struct",
    "super",
    "test",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "wit-bindgen",
    "yield",
];

/// Checks a project name: it becomes a Cargo package, an npm package and a file name.
pub fn check_name(name: &str) -> Result<(), ScaffoldError> {
    let ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !RESERVED_NAMES.contains(&name);
    if ok { Ok(()) } else { Err(ScaffoldError::BadName(name.to_owned())) }
}

/// What a language puts into the README's placeholders.
struct Readme {
    /// Rows of the layout table for the language's own files.
    layout: &'static str,
    /// The command(s) to run once before building.
    prerequisites: &'static str,
    /// The unit tests' command.
    test: &'static str,
    /// A line after the build (with its newline), or nothing.
    also: &'static str,
}

/// The files of a `lang` project named `name` for `slot`.
pub fn files(slot: Slot, lang: Lang, name: &str) -> Result<Vec<File>, ScaffoldError> {
    check_name(name)?;
    let pick = |variants: [&'static str; 3]| variants[slot.index()];
    let plain = |path: &str, text: &str| File { path: path.into(), text: text.to_owned(), executable: false };
    let script = |path: &str, text: &str| File { path: path.into(), text: text.to_owned(), executable: true };
    let (mut files, readme) = match lang {
        Lang::Rust => (
            vec![
                plain("Cargo.toml", include_str!("../../templates/plugin/rust/Cargo.toml")),
                plain(".cargo/config.toml", include_str!("../../templates/plugin/rust/.cargo/config.toml")),
                plain("rustfmt.toml", RUSTFMT),
                plain("src/lib.rs", pick(per_slot!("rust", "lib.rs"))),
                plain("src/rules.rs", pick(per_slot!("rust", "rules.rs"))),
                script("build.sh", include_str!("../../templates/plugin/rust/build.sh")),
                plain(".gitignore", include_str!("../../templates/plugin/rust/gitignore")),
            ],
            Readme {
                layout: "| `src/rules.rs` | the rules, and their unit test (`cargo test` runs it natively) |\n\
                 | `src/lib.rs` | the bindings: `wit_bindgen::generate!` over `wit/`, the world's exports |\n\
                 | `Cargo.toml`, `.cargo/config.toml` | a `cdylib`; a release profile for small components; a 64 KiB guest stack |",
                prerequisites: "rustup target add wasm32-wasip2                       # once",
                test: "cargo test",
                also: "cargo component build --release                      # the same with cargo-component: \
                 target/wasm32-wasip1/release/{{crate}}.wasm\n",
            },
        ),
        Lang::Python => (
            vec![
                plain("app.py", pick(per_slot!("python", "app.py"))),
                plain("rules.py", pick(per_slot!("python", "rules.py"))),
                plain("test_rules.py", pick(per_slot!("python", "test_rules.py"))),
                plain("requirements.txt", PYTHON_REQUIREMENTS),
                script("build.sh", include_str!("../../templates/plugin/python/build.sh")),
                plain(".gitignore", include_str!("../../templates/plugin/python/gitignore")),
            ],
            Readme {
                layout: "| `rules.py`, `test_rules.py` | the rules, and their unit test |\n\
                 | `app.py` | the bindings: a class `WitWorld` with the world's exports |\n\
                 | `requirements.txt` | componentize-py, pinned |",
                prerequisites: "python3 -m pip install -r requirements.txt            # componentize-py, pinned",
                test: "python3 -m unittest",
                also: "",
            },
        ),
        Lang::Js => (
            vec![
                plain("app.js", pick(per_slot!("js", "app.js"))),
                plain("rules.js", pick(per_slot!("js", "rules.js"))),
                plain("test/rules.test.js", pick(per_slot!("js", "rules.test.js"))),
                plain("package.json", &js_package(slot, name)),
                plain("package-lock.json", &js_lock(name)),
                script("build.sh", include_str!("../../templates/plugin/js/build.sh")),
                plain(".gitignore", include_str!("../../templates/plugin/js/gitignore")),
            ],
            Readme {
                layout: "| `rules.js`, `test/rules.test.js` | the rules, and their unit test |\n\
                 | `app.js` | the bindings: the world's exports as module exports |\n\
                 | `package.json`, `package-lock.json` | jco and componentize-js, pinned; rolldown bundles the modules first |",
                prerequisites: "npm ci                                                # jco and componentize-js, pinned by the lockfile",
                test: "npm test",
                also: "",
            },
        ),
    };
    files.push(plain("README.md", README));
    files.extend(WIT_FILES.iter().map(|(file, text)| plain(&format!("wit/{file}"), text)));

    let wit_bindgen = wit_bindgen_version();
    let crate_name = name.replace('-', "_");
    for file in &mut files {
        if file.path.starts_with("wit") {
            continue;
        }
        file.text = file
            .text
            .replace("{{layout}}", readme.layout)
            .replace("{{prerequisites}}", readme.prerequisites)
            .replace("{{test}}", readme.test)
            .replace("{{also}}", readme.also)
            .replace("{{name}}", name)
            .replace("{{crate}}", &crate_name)
            .replace("{{slot}}", slot.as_str())
            .replace("{{world}}", slot.world())
            .replace("{{language}}", lang.display_name())
            .replace("{{wit_bindgen}}", wit_bindgen);
    }
    Ok(files)
}

/// Writes `files` into `dir`, which must not exist yet or be empty: nothing of anyone's is overwritten, and nothing is
/// written through a link someone placed there meanwhile (every directory below `dir` is created here, and every file
/// created new).
pub fn write(dir: &Path, files: &[File]) -> Result<(), ScaffoldError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ScaffoldError::Io { path, source }
    };
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(ScaffoldError::NotEmpty(dir.to_owned()));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            std::fs::create_dir(dir).map_err(io(dir))?;
        }
        Err(e) => return Err(io(dir)(e)),
    }
    let mut subdirs: Vec<&Path> =
        files.iter().filter_map(|f| f.path.parent()).filter(|p| !p.as_os_str().is_empty()).collect();
    subdirs.sort();
    subdirs.dedup();
    for sub in subdirs {
        // `create_dir`, not `_all`: a directory (or link) that appeared since the check above is an error.
        let path = dir.join(sub);
        std::fs::create_dir(&path).map_err(io(&path))?;
    }
    for file in files {
        let path = dir.join(&file.path);
        // `create_new` (O_EXCL): neither an existing file nor a link is followed or replaced.
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, if file.executable { 0o755 } else { 0o644 });
        let mut out = options.open(&path).map_err(io(&path))?;
        std::io::Write::write_all(&mut out, file.text.as_bytes()).map_err(io(&path))?;
    }
    Ok(())
}

/// The `wit-bindgen` version the repository's own guests are built with (`plugins/Cargo.toml`).
fn wit_bindgen_version() -> &'static str {
    PLUGINS_MANIFEST
        .lines()
        .find_map(|line| line.strip_prefix("wit-bindgen = "))
        .and_then(|spec| spec.split("version = \"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .expect("plugins/Cargo.toml names wit-bindgen's version (checked by a unit test)")
}

/// The project's `package.json`: the example's pinned toolchain (devDependencies, overrides), this project's scripts.
fn js_package(slot: Slot, name: &str) -> String {
    let example: serde_json::Value = serde_json::from_str(JS_PACKAGE).expect("the example's package.json is JSON");
    let build = format!(
        "rolldown app.js --format esm --file dist/app.js --external order:plugins/log@0.1.0 && \
         jco componentize dist/app.js --wit wit --world-name {} -o dist/{}",
        slot.world(),
        slot.file_name()
    );
    let package = serde_json::json!({
        "name": name,
        "version": "0.1.0",
        "private": true,
        "description": format!("A {slot} plugin for order-host (world `{}`), built with jco componentize", slot.world()),
        "type": "module",
        "scripts": { "build": build, "test": "node --test" },
        "devDependencies": example["devDependencies"],
        "overrides": example["overrides"],
    });
    let mut text = serde_json::to_string_pretty(&package).expect("a JSON value serializes");
    text.push('\n');
    text
}

/// The example's lockfile under this project's name: the same pinned packages, so `npm ci` installs what CI tested.
fn js_lock(name: &str) -> String {
    JS_LOCK.replace(&format!("\"name\": \"{JS_EXAMPLE_NAME}\""), &format!("\"name\": \"{name}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_is_filled_in() {
        for slot in Slot::ALL {
            for lang in Lang::ALL {
                let files = files(slot, lang, "my-plugin").unwrap();
                for file in &files {
                    assert!(!file.text.contains("{{"), "{lang}/{slot}: {} keeps a placeholder", file.path.display());
                }
                let readme = files.iter().find(|f| f.path == Path::new("README.md")).unwrap();
                assert!(readme.text.contains(&format!("--slot {slot} dist/{slot}.wasm")), "{}", readme.text);
                assert!(files.iter().any(|f| f.path == Path::new("wit/worlds.wit")));
                assert!(files.iter().any(|f| f.path == Path::new("build.sh") && f.executable));
            }
        }
    }

    #[test]
    fn pins_come_from_the_repository() {
        assert!(wit_bindgen_version().starts_with("0."), "{}", wit_bindgen_version());
        let rust = files(Slot::Payment, Lang::Rust, "my-plugin").unwrap();
        let manifest = &rust.iter().find(|f| f.path == Path::new("Cargo.toml")).unwrap().text;
        assert!(manifest.contains(&format!("version = \"{}\"", wit_bindgen_version())), "{manifest}");
        assert!(manifest.contains("name = \"my-plugin\""), "{manifest}");

        // The lockfile names the project twice (top level and root package) and nothing else by the example's name.
        let lock = js_lock("my-plugin");
        assert_eq!(lock.matches("\"name\": \"my-plugin\"").count(), 2, "{lock}");
        assert!(!lock.contains(JS_EXAMPLE_NAME));
        let package: serde_json::Value = serde_json::from_str(&js_package(Slot::Shipping, "my-plugin")).unwrap();
        let example: serde_json::Value = serde_json::from_str(JS_PACKAGE).unwrap();
        assert_eq!(package["devDependencies"], example["devDependencies"]);
        assert_eq!(package["overrides"], example["overrides"]);
        assert!(package["scripts"]["build"].as_str().unwrap().ends_with("--world-name shipper -o dist/shipping.wasm"));
    }

    #[test]
    fn names_must_suit_cargo_and_npm() {
        for good in ["a", "my-payment", "gateway2"] {
            check_name(good).unwrap();
        }
        for bad in ["", "My", "-x", "x-", "a_b", "a b", "über", "../x", &"a".repeat(65), "test", "std", "wit-bindgen"]
        {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn writes_only_into_a_new_or_empty_directory() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("nested/my-plugin");
        let files = files(Slot::Validation, Lang::Python, "my-plugin").unwrap();
        write(&project, &files).unwrap();
        assert_eq!(std::fs::read_to_string(project.join("wit/types.wit")).unwrap(), WIT_FILES[0].1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(project.join("build.sh")).unwrap().permissions().mode();
            assert_eq!(mode & 0o111, 0o111, "{mode:o}");
        }
        let before = std::fs::read_to_string(project.join("app.py")).unwrap();
        assert!(matches!(write(&project, &files), Err(ScaffoldError::NotEmpty(_))));
        assert_eq!(std::fs::read_to_string(project.join("app.py")).unwrap(), before);

        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        write(&empty, &files).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_holding_only_a_link_is_refused_and_the_link_not_followed() {
        // A link planted where the scaffold would create `src/` makes the directory non-empty: refused, and nothing
        // is written where it points. (A link planted after that check meets `create_dir`, which fails on it.)
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        let project = dir.path().join("my-plugin");
        std::fs::create_dir(&project).unwrap();
        std::os::unix::fs::symlink(&elsewhere, project.join("src")).unwrap();
        let files = files(Slot::Payment, Lang::Rust, "my-plugin").unwrap();
        assert!(matches!(write(&project, &files), Err(ScaffoldError::NotEmpty(_))));
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    }
}
