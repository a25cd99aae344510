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
    use std::fmt::Write as _;
    let by_state = match state.store.count_by_state().await {
        Ok(counts) => counts.into_iter().map(|(s, n)| (s.to_string(), n)).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot count orders for /metrics");
            Vec::new()
        }
    };
    let mut text = state.metrics.render(&by_state);
    match state.store.count_needing_attention().await {
        Ok(n) => {
            let _ = writeln!(text, "# HELP order_host_orders_needing_attention Orders a person must look at.");
            let _ = writeln!(text, "# TYPE order_host_orders_needing_attention gauge");
            let _ = writeln!(text, "order_host_orders_needing_attention {n}");
        }
        Err(e) => tracing::warn!(error = %e, "cannot count orders needing attention for /metrics"),
    }
    let runtime = state.registry.runtime();
    let share = crate::plugins::slot_share(runtime.config().max_instances);
    let _ = writeln!(
        text,
        "# HELP order_host_plugin_calls_in_flight Plugin calls running now, per slot (at most {share})."
    );
    let _ = writeln!(text, "# TYPE order_host_plugin_calls_in_flight gauge");
    for slot in crate::plugins::Slot::ALL {
        let _ = writeln!(text, "order_host_plugin_calls_in_flight{{slot=\"{slot}\"}} {}", runtime.in_flight(slot));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

/// This API's OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1", content_type = "application/json", body = Object)))]
pub async fn openapi() -> impl IntoResponse {
    Json(ApiDoc::openapi())
}
