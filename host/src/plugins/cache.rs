//! A private on-disk cache of compiled components, keyed by component digest and engine compatibility hash.
//!
//! Loading a cached artifact takes ~0.2 ms instead of ~45 ms of compilation. wasmtime trusts a serialized artifact
//! completely (it is native code it will run), so a checksum is not enough: whoever can write a file can write its
//! checksum too. Each file carries an HMAC-SHA256 tag under a key of this installation (`.key`, 32 random bytes,
//! owner-only, in the cache directory), over the component digest, the engine key and the artifact: a file that was
//! changed, forged without the key or moved to another component's name fails the check, is deleted, and the
//! component is compiled afresh — it never runs.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use wasmtime::Engine;

use super::Digest;

/// Identifies this file format; bump it when the layout changes (version 1 carried a plain sha256).
const MAGIC: &[u8; 8] = b"OHCWASM2";
const HEADER: usize = MAGIC.len() + 32;
const KEY_FILE: &str = ".key";

pub(crate) struct ArtifactCache {
    dir: PathBuf,
    engine_key: String,
    key: [u8; 32],
}

impl std::fmt::Debug for ArtifactCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactCache")
            .field("dir", &self.dir)
            .field("engine_key", &self.engine_key)
            .finish_non_exhaustive()
    }
}

impl ArtifactCache {
    /// Opens (creating, owner-only) the cache directory for artifacts of `engine`'s configuration, and its key.
    pub(crate) fn open(dir: PathBuf, engine: &Engine) -> Result<Self, String> {
        create_private_dir(&dir).map_err(|e| format!("cannot create plugin cache {}: {e}", dir.display()))?;
        let key = installation_key(&dir.join(KEY_FILE))
            .map_err(|e| format!("cannot read or create the plugin cache key in {}: {e}", dir.display()))?;
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(ArtifactCache { dir, engine_key: format!("{:016x}", hasher.finish()), key })
    }

    /// The tag of `artifact` stored for `digest`.
    fn tag(&self, digest: &Digest, artifact: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(digest.hex().as_bytes());
        mac.update(self.engine_key.as_bytes());
        mac.update(artifact);
        mac
    }

    fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(format!("{}-{}.cwasm", digest.hex(), self.engine_key))
    }

    /// The verified artifact for `digest`, or `None` when absent or corrupt (a corrupt file is removed).
    pub(crate) fn get(&self, digest: &Digest) -> Option<Vec<u8>> {
        let path = self.path(digest);
        let mut bytes = std::fs::read(&path).ok()?;
        // `verify_slice` compares in constant time.
        if bytes.len() < HEADER
            || &bytes[..MAGIC.len()] != MAGIC
            || self.tag(digest, &bytes[HEADER..]).verify_slice(&bytes[MAGIC.len()..HEADER]).is_err()
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
        let tmp = path.with_extension(format!(
            "tmp{}-{:08x}",
            std::process::id(),
            rand::Rng::random::<u32>(&mut rand::rng())
        ));
        let written = (|| {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(MAGIC)?;
            file.write_all(&self.tag(digest, artifact).finalize().into_bytes())?;
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

/// This installation's key: read, or created once with 32 random bytes and owner-only permissions — written to a
/// file of its own first and linked into place, so the key file is complete or absent, and of two processes creating
/// it at once one wins and the other reads the winner's.
fn installation_key(path: &Path) -> std::io::Result<[u8; 32]> {
    use rand::Rng as _;
    if path.exists() {
        return read_key(path);
    }
    let mut key = [0u8; 32];
    rand::rng().fill(&mut key);
    let tmp = path.with_extension(format!("new-{}-{:08x}", std::process::id(), rand::rng().random::<u32>()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(&key)?;
        file.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key(path),
        Err(e) => Err(e),
    }
}

fn read_key(path: &Path) -> std::io::Result<[u8; 32]> {
    let bytes = std::fs::read(path)?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| std::io::Error::other(format!("{} does not hold 32 bytes", path.display())))
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
