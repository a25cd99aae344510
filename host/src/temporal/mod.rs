//! Everything that talks to the Temporal server: the client connection and the workers.

pub mod search;
pub mod worker;

use std::str::FromStr;
use std::time::Duration;

use temporalio_client::errors::ClientConnectError;
use temporalio_client::tonic;
use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions, Url};

use crate::config::Config;

/// Why the Temporal server could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("TEMPORAL_ADDRESS {0:?} is neither host:port nor a URL: {1}")]
    Address(String, String),
    #[error("cannot connect to Temporal at {0}: {1}")]
    Connect(String, String),
}

/// Connects a namespace-bound client to `TEMPORAL_ADDRESS`.
pub async fn connect(config: &Config) -> Result<Client, ConnectError> {
    let address = &config.temporal_address;
    let url = frontend_url(address)?;
    let identity = format!("order-host@{}:{}", hostname(), std::process::id());
    let options = ConnectionOptions::new(url).identity(identity).connect_timeout(Duration::from_secs(10)).build();
    let connection =
        connect_patiently(options).await.map_err(|e| ConnectError::Connect(address.clone(), e.to_string()))?;
    Client::new(connection, ClientOptions::new(config.temporal_namespace.clone()).build())
        .map_err(|e| ConnectError::Connect(address.clone(), e.to_string()))
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

/// The frontend's URL from `TEMPORAL_ADDRESS`: `host:port`, as the `temporal` CLI and the other SDKs take it, or a
/// URL. Without a scheme, `localhost:7233` would parse as a URL whose scheme is `localhost`.
pub fn frontend_url(address: &str) -> Result<Url, ConnectError> {
    let invalid = |e: String| ConnectError::Address(address.to_owned(), e);
    let url = if address.contains("://") {
        Url::from_str(address).map_err(|e| invalid(e.to_string()))?
    } else {
        Url::from_str(&format!("http://{address}")).map_err(|e| invalid(e.to_string()))?
    };
    if url.scheme() == "https" {
        return Err(invalid("TLS connections to Temporal are not supported yet; use a plaintext frontend".to_owned()));
    }
    if url.scheme() != "http" || url.host_str().is_none_or(str::is_empty) || url.port().is_none() {
        return Err(invalid(
            "expected host:port or http://host:port (with the port: Temporal's is usually 7233)".to_owned(),
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
        for (given, url) in [
            ("localhost:7233", "http://localhost:7233/"),
            ("127.0.0.1:7233", "http://127.0.0.1:7233/"),
            ("temporal.example.com:7233", "http://temporal.example.com:7233/"),
            ("http://127.0.0.1:7233", "http://127.0.0.1:7233/"),
        ] {
            assert_eq!(frontend_url(given).unwrap().as_str(), url, "{given}");
        }
        for bad in
            ["", "ftp://host:21", "http://", "not a host:7233", "host:port", "https://ns.tmprl.cloud:7233", "temporal"]
        {
            assert!(matches!(frontend_url(bad), Err(ConnectError::Address(..))), "{bad:?}");
        }
    }
}
