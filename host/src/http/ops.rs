//! Operations endpoints: liveness, readiness, metrics, the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use temporalio_client::tonic::IntoRequest;
use temporalio_common::protos::temporal::api::workflowservice::v1::GetSystemInfoRequest;
use utoipa::OpenApi as _;

use super::error::{ApiError, ErrorBody};
use super::{ApiDoc, AppState};
use crate::metrics::Scrape;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: String,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".into() })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    pub status: String,
    pub database: String,
    pub temporal: String,
}

/// The database and Temporal both answer.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Readiness), (status = 503, description = "Not ready", body = ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, ApiError> {
    let timeout = state.command_timeout;
    let database = match tokio::time::timeout(timeout, state.store.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".to_owned()),
    };
    let mut service = state.client.connection().workflow_service();
    let temporal =
        match tokio::time::timeout(timeout, service.get_system_info(GetSystemInfoRequest::default().into_request()))
            .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.message().to_owned()),
            Err(_) => Err("timed out".to_owned()),
        };
    match (database, temporal) {
        (Ok(()), Ok(())) => {
            Ok(Json(Readiness { status: "ready".into(), database: "ok".into(), temporal: "ok".into() }))
        }
        (db, t) => Err(ApiError::unavailable(format!(
            "not ready: database {}, temporal {}",
            db.err().unwrap_or_else(|| "ok".into()),
            t.err().unwrap_or_else(|| "ok".into())
        ))),
    }
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let orders_by_state = match state.store.count_by_state().await {
        Ok(counts) => Some(counts.into_iter().map(|(s, n)| (s.to_string(), n)).collect()),
        Err(e) => {
            tracing::warn!(error = %e, "cannot count orders for /metrics");
            None
        }
    };
    let needing_attention = match state.store.count_needing_attention().await {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = %e, "cannot count orders needing attention for /metrics");
            None
        }
    };
    let runtime = state.registry.runtime();
    let in_flight = crate::plugins::Slot::ALL
        .into_iter()
        .map(|slot| (slot.to_string(), u64::from(runtime.in_flight(slot))))
        .collect();
    let mut text = state.metrics.render(&Scrape { orders_by_state, needing_attention, in_flight });
    if let Some(addr) = state.metrics.temporal_exporter() {
        match scrape_temporal(addr).await {
            Ok(body) => text.push_str(&body),
            Err(e) => tracing::warn!(error = %e, "cannot read Temporal's worker metrics for /metrics"),
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

/// Temporal's worker metrics, from the SDK's exporter on its loopback port (its registry is not reachable otherwise):
/// one HTTP/1.0 request, bounded in time and size.
async fn scrape_temporal(addr: std::net::SocketAddr) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let fetch = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").await?;
        let mut response = Vec::new();
        stream.take(16 << 20).read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(std::time::Duration::from_secs(2), fetch)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "the exporter did not answer within 2 s"))??;
    let text = String::from_utf8_lossy(&response);
    match text.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.") && head.contains(" 200 ") => Ok(body.to_owned()),
        _ => Err(std::io::Error::other(format!("unexpected answer: {}", text.lines().next().unwrap_or_default()))),
    }
}

/// This API's OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1", content_type = "application/json", body = Object)))]
pub async fn openapi() -> impl IntoResponse {
    Json(ApiDoc::openapi())
}
