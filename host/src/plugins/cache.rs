//! A private on-disk cache of compiled components, keyed by component digest and engine compatibility hash.
//!
//! Loading a cached artifact takes ~0.2 ms instead of ~45 ms of compilation. wasmtime trusts a serialized artifact
//! completely (it is native code), so each file carries the sha256 of its payload and is checked before use; a file
//! that fails the check is deleted and the component compiled afresh.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use wasmtime::Engine;

use super::Digest;

/// Identifies this file format; bump it when the layout changes.
const MAGIC: &[u8; 8] = b"OHCWASM1";
const HEADER: usize = MAGIC.len() + 32;

#[derive(Debug)]
pub(crate) struct ArtifactCache {
    dir: PathBuf,
    engine_key: String,
}

impl ArtifactCache {
    /// Opens (creating, owner-only) the cache directory for artifacts of `engine`'s configuration.
    pub(crate) fn open(dir: PathBuf, engine: &Engine) -> Result<Self, String> {
        create_private_dir(&dir).map_err(|e| format!("cannot create plugin cache {}: {e}", dir.display()))?;
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(ArtifactCache { dir, engine_key: format!("{:016x}", hasher.finish()) })
    }

    fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(format!("{}-{}.cwasm", digest.hex(), self.engine_key))
    }

    /// The verified artifact for `digest`, or `None` when absent or corrupt (a corrupt file is removed).
    pub(crate) fn get(&self, digest: &Digest) -> Option<Vec<u8>> {
        let path = self.path(digest);
        let mut bytes = std::fs::read(&path).ok()?;
        if bytes.len() < HEADER
            || &bytes[..MAGIC.len()] != MAGIC
            || bytes[MAGIC.len()..HEADER] != *Sha256::digest(&bytes[HEADER..])
        {
            tracing::warn!(path = %path.display(), "compiled plugin artifact failed its integrity check; recompiling");
            let _ = std::fs::remove_file(&path);
            return None;
        }
        bytes.drain(..HEADER);
        Some(bytes)
    }

    /// Stores an artifact (atomically: temp file, then rename). Failures only cost a recompilation later.
    pub(crate) fn put(&self, digest: &Digest, artifact: &[u8]) {
        let path = self.path(digest);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let written = (|| {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(MAGIC)?;
            file.write_all(&Sha256::digest(artifact))?;
            file.write_all(artifact)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)
        })();
        if let Err(e) = written {
            tracing::warn!(path = %path.display(), error = %e, "cannot cache compiled plugin");
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}
