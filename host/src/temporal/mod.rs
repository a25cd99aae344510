//! Everything that talks to the Temporal server: the client connection and the workers.

pub mod worker;

use std::str::FromStr;
use std::time::Duration;

use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions, Url};

use crate::config::Config;

/// Why the Temporal server could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("TEMPORAL_ADDRESS {0:?} is not a URL: {1}")]
    Address(String, String),
    #[error("cannot connect to Temporal at {0}: {1}")]
    Connect(String, String),
}

/// Connects a namespace-bound client to `TEMPORAL_ADDRESS`.
pub async fn connect(config: &Config) -> Result<Client, ConnectError> {
    let address = &config.temporal_address;
    let url = Url::from_str(address).map_err(|e| ConnectError::Address(address.clone(), e.to_string()))?;
    let identity = format!("order-host@{}:{}", hostname(), std::process::id());
    let options = ConnectionOptions::new(url).identity(identity).connect_timeout(Duration::from_secs(10)).build();
    let connection =
        Connection::connect(options).await.map_err(|e| ConnectError::Connect(address.clone(), e.to_string()))?;
    Client::new(connection, ClientOptions::new(config.temporal_namespace.clone()).build())
        .map_err(|e| ConnectError::Connect(address.clone(), e.to_string()))
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
