//! Everything that talks to the Temporal server: the client connection and the workers.

pub mod search;
pub mod worker;

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use temporalio_client::errors::ClientConnectError;
use temporalio_client::tonic;
use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions, GrpcCompression, Url};
use temporalio_common::envconfig::{ClientConfigTLS, LoadClientConfigProfileOptions, load_client_config_profile};

use crate::config::Config;

/// Why the Temporal server could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("TEMPORAL_ADDRESS {0:?} is neither host:port nor a URL: {1}")]
    Address(String, String),
    #[error("cannot connect to Temporal at {0}: {1}")]
    Connect(String, String),
    #[error("the Temporal connection profile is invalid: {0}")]
    Profile(String),
}

/// How messages to and from the Temporal frontend are encoded (`TEMPORAL_GRPC_COMPRESSION`). The client library
/// gzips every request and asks for gzipped answers unless told otherwise; on a link that costs nothing to cross, that
/// is CPU spent on both ends for every poll, workflow task and history page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Compression {
    #[default]
    None,
    Gzip,
}

impl Compression {
    /// The client library's setting.
    pub fn grpc(self) -> GrpcCompression {
        match self {
            Compression::None => GrpcCompression::None,
            Compression::Gzip => GrpcCompression::Gzip,
        }
    }
}

/// The address used when neither a flag, the environment nor a profile names one.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:7233";

/// Connects a namespace-bound client as [`connection_options`] says.
pub async fn connect(config: &Config) -> Result<Client, ConnectError> {
    let (options, namespace) = connection_options(config)?;
    let address = options.target.to_string();
    let connection =
        connect_patiently(options).await.map_err(|e| ConnectError::Connect(address.clone(), e.to_string()))?;
    Client::new(connection, ClientOptions::new(namespace).build())
        .map_err(|e| ConnectError::Connect(address, e.to_string()))
}

/// Where and how to reach Temporal, and the namespace, resolved as the `temporal` CLI and the other SDKs resolve them:
/// a `temporal.toml` profile (`TEMPORAL_CONFIG_FILE`, else the user's config directory; `TEMPORAL_PROFILE`, else
/// `default`), then the `TEMPORAL_*` variables over it (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`,
/// `TEMPORAL_TLS`, `TEMPORAL_TLS_SERVER_CA_CERT_PATH`, `TEMPORAL_TLS_CLIENT_CERT_PATH`, `TEMPORAL_TLS_CLIENT_KEY_PATH`,
/// `TEMPORAL_TLS_SERVER_NAME`, `TEMPORAL_GRPC_META_*`), then `--temporal-address` / `--temporal-namespace`. TLS is on
/// when a TLS setting, an API key or an `https://` address asks for it (`TEMPORAL_TLS=false` turns it off).
pub fn connection_options(config: &Config) -> Result<(ConnectionOptions, String), ConnectError> {
    resolve(config, None)
}

/// [`connection_options`] with the environment given (tests) instead of the process's.
fn resolve(
    config: &Config,
    env: Option<&HashMap<String, String>>,
) -> Result<(ConnectionOptions, String), ConnectError> {
    let mut profile =
        load_client_config_profile(LoadClientConfigProfileOptions::default(), env).map_err(profile_error)?;
    if let Some(address) = &config.temporal_address {
        profile.address = Some(address.clone());
    }
    if let Some(namespace) = &config.temporal_namespace {
        profile.namespace = Some(namespace.clone());
    }
    let address = profile.address.get_or_insert_with(|| DEFAULT_ADDRESS.to_owned()).clone();
    let namespace = profile.namespace.clone().unwrap_or_else(|| "default".to_owned());
    if address.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://")) && profile.tls.is_none() {
        profile.tls = Some(ClientConfigTLS::default());
    }
    let mut options = ConnectionOptions::try_from(profile).map_err(profile_error)?;
    options.target = frontend_url(&address, options.tls_options.is_some())?;
    options.identity = format!("order-host@{}:{}", hostname(), std::process::id());
    options.connect_timeout = Some(Duration::from_secs(10));
    options.grpc_compression = config.temporal_grpc_compression.grpc();
    Ok((options, namespace))
}

/// How long connecting waits for a frontend that answers but is not serving yet ("Frontend is not healthy yet": a
/// dev server or a cluster still starting, a frontend restarting).
const UNAVAILABLE_PATIENCE: Duration = Duration::from_secs(30);

/// Connects, retrying every 200 ms for up to [`UNAVAILABLE_PATIENCE`] while the frontend answers `Unavailable`; any
/// other failure (a closed port, a bad address) is reported at once.
pub async fn connect_patiently(options: ConnectionOptions) -> Result<Connection, ClientConnectError> {
    let deadline = tokio::time::Instant::now() + UNAVAILABLE_PATIENCE;
    loop {
        match Connection::connect(options.clone()).await {
            Err(ClientConnectError::SystemInfoCallError(status))
                if status.code() == tonic::Code::Unavailable && tokio::time::Instant::now() < deadline =>
            {
                tracing::debug!(message = status.message(), "Temporal frontend not serving yet; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            result => return result,
        }
    }
}

/// A profile error as it may be logged: a file that does not parse is named, not quoted (the parser quotes the
/// offending line, which may hold the API key).
fn profile_error(e: temporalio_common::envconfig::ConfigError) -> ConnectError {
    use temporalio_common::envconfig::ConfigError;
    ConnectError::Profile(match e {
        ConfigError::LoadError(_) => "the temporal.toml file (TEMPORAL_CONFIG_FILE, or the user's config directory) \
                                      cannot be read or parsed; check it with `temporal config list`"
            .to_owned(),
        e => e.to_string(),
    })
}

/// The frontend's URL from `TEMPORAL_ADDRESS`: `host:port`, as the `temporal` CLI and the other SDKs take it, or a
/// URL; `https` when `tls`. Without a scheme, `localhost:7233` would parse as a URL whose scheme is `localhost`.
pub fn frontend_url(address: &str, tls: bool) -> Result<Url, ConnectError> {
    let invalid = |e: String| ConnectError::Address(address.to_owned(), e);
    let scheme = if tls { "https" } else { "http" };
    let url = if address.contains("://") {
        Url::from_str(address).map_err(|e| invalid(e.to_string()))?
    } else {
        Url::from_str(&format!("{scheme}://{address}")).map_err(|e| invalid(e.to_string()))?
    };
    if url.scheme() == "http" && tls {
        return Err(invalid("an http:// address with TLS on: write host:port or https://host:port".to_owned()));
    }
    if url.scheme() == "https" && !tls {
        return Err(invalid("an https:// address with TLS off (TEMPORAL_TLS=false): write host:port".to_owned()));
    }
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) || url.port().is_none() {
        return Err(invalid(
            "expected host:port or http(s)://host:port (with the port: Temporal's is usually 7233)".to_owned(),
        ));
    }
    Ok(url)
}

/// This machine's name, for identities and records.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frontend_address_is_host_port_or_a_url() {
        for (given, tls, url) in [
            ("localhost:7233", false, "http://localhost:7233/"),
            ("127.0.0.1:7233", false, "http://127.0.0.1:7233/"),
            ("temporal.example.com:7233", false, "http://temporal.example.com:7233/"),
            ("http://127.0.0.1:7233", false, "http://127.0.0.1:7233/"),
            ("ns.tmprl.cloud:7233", true, "https://ns.tmprl.cloud:7233/"),
            ("https://ns.tmprl.cloud:7233", true, "https://ns.tmprl.cloud:7233/"),
        ] {
            assert_eq!(frontend_url(given, tls).unwrap().as_str(), url, "{given}");
        }
        for (bad, tls) in [
            ("", false),
            ("ftp://host:21", false),
            ("http://", false),
            ("not a host:7233", false),
            ("host:port", false),
            ("temporal", false),
            ("http://ns.tmprl.cloud:7233", true),
            ("https://ns.tmprl.cloud:7233", false),
        ] {
            assert!(matches!(frontend_url(bad, tls), Err(ConnectError::Address(..))), "{bad:?}");
        }
    }

    /// A configuration from `flags` alone: clap would also read `TEMPORAL_ADDRESS`/`TEMPORAL_NAMESPACE` from the
    /// real environment (a developer reusing a server sets them), which these tests inject instead.
    fn config(flags: &[&str]) -> Config {
        let args = ["order-host"].iter().chain(flags).chain(&["worker"]).copied();
        let mut config = <crate::cli::Cli as clap::Parser>::try_parse_from(args).unwrap().config;
        if !flags.contains(&"--temporal-address") {
            config.temporal_address = None;
        }
        if !flags.contains(&"--temporal-namespace") {
            config.temporal_namespace = None;
        }
        config
    }

    fn env(vars: &[(&str, &str)]) -> HashMap<String, String> {
        // Never the user's own temporal.toml: a file that does not exist is no profile.
        let mut env: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        env.entry("TEMPORAL_CONFIG_FILE".into()).or_insert_with(|| "/nonexistent/temporal.toml".into());
        env
    }

    #[test]
    fn plaintext_by_default_on_the_local_dev_server() {
        let (options, namespace) = resolve(&config(&[]), Some(&env(&[]))).unwrap();
        assert_eq!((options.target.as_str(), namespace.as_str()), ("http://127.0.0.1:7233/", "default"));
        assert!(options.tls_options.is_none() && options.api_key.is_none());
    }

    #[test]
    fn messages_are_not_compressed_unless_asked() {
        let (options, _) = resolve(&config(&[]), Some(&env(&[]))).unwrap();
        assert_eq!(options.grpc_compression, GrpcCompression::None);
        let (options, _) = resolve(&config(&["--temporal-grpc-compression", "gzip"]), Some(&env(&[]))).unwrap();
        assert_eq!(options.grpc_compression, GrpcCompression::Gzip);
    }

    #[test]
    fn an_api_key_turns_tls_on_as_temporal_cloud_needs() {
        let vars = env(&[("TEMPORAL_ADDRESS", "ns.a1b2c.tmprl.cloud:7233"), ("TEMPORAL_API_KEY", "secret")]);
        let (options, _) = resolve(&config(&["--temporal-namespace", "ns.a1b2c"]), Some(&vars)).unwrap();
        assert_eq!(options.target.as_str(), "https://ns.a1b2c.tmprl.cloud:7233/");
        assert_eq!(options.api_key.as_deref(), Some("secret"));
        assert!(options.tls_options.is_some());
        // …unless TLS is explicitly off (a plaintext proxy in front of the frontend).
        let vars = env(&[("TEMPORAL_API_KEY", "secret"), ("TEMPORAL_TLS", "false")]);
        let (options, _) = resolve(&config(&["--temporal-address", "proxy:7233"]), Some(&vars)).unwrap();
        assert_eq!(options.target.as_str(), "http://proxy:7233/");
        assert!(options.tls_options.is_none());
    }

    #[test]
    fn mutual_tls_from_certificate_files_and_a_profile() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["ca.pem", "client.pem", "client.key"] {
            std::fs::write(dir.path().join(name), format!("-----BEGIN {name}-----")).unwrap();
        }
        let path = |name: &str| dir.path().join(name).display().to_string();
        let file = dir.path().join("temporal.toml");
        std::fs::write(
            &file,
            format!(
                "[profile.prod]\naddress = \"temporal.internal:7233\"\nnamespace = \"orders\"\n\
                 [profile.prod.tls]\nserver_ca_cert_path = \"{}\"\nclient_cert_path = \"{}\"\n\
                 client_key_path = \"{}\"\nserver_name = \"temporal\"\n",
                path("ca.pem"),
                path("client.pem"),
                path("client.key")
            ),
        )
        .unwrap();
        let vars = env(&[("TEMPORAL_CONFIG_FILE", &file.display().to_string()), ("TEMPORAL_PROFILE", "prod")]);
        let (options, namespace) = resolve(&config(&[]), Some(&vars)).unwrap();
        assert_eq!((options.target.as_str(), namespace.as_str()), ("https://temporal.internal:7233/", "orders"));
        let tls = options.tls_options.unwrap();
        assert_eq!(tls.domain.as_deref(), Some("temporal"));
        assert_eq!(tls.server_root_ca_cert.as_deref(), Some(&b"-----BEGIN ca.pem-----"[..]));
        let client = tls.client_tls_options.unwrap();
        assert_eq!(client.client_private_key, b"-----BEGIN client.key-----");
        // A flag still wins over the profile.
        let (options, namespace) =
            resolve(&config(&["--temporal-address", "other:7233", "--temporal-namespace", "x"]), Some(&vars)).unwrap();
        assert_eq!((options.target.as_str(), namespace.as_str()), ("https://other:7233/", "x"));
    }

    #[test]
    fn half_a_client_certificate_is_refused() {
        let vars = env(&[("TEMPORAL_TLS_CLIENT_CERT_PATH", "/x.pem")]);
        assert!(matches!(resolve(&config(&[]), Some(&vars)), Err(ConnectError::Profile(_))));
    }
}
