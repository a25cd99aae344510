//! The REST API (axum): one file per resource, one error type, a pure [`router`] that tests mount on port 0.
//!
//! Commands reach workflows as updates so callers learn the outcome; every error is `{"error","message"}` JSON and a
//! client's mistake never yields a 5xx.

mod address;
mod auth;
mod console;
pub mod error;
mod extract;
mod listing;
mod ops;
pub mod orders;
mod plugins;
pub mod server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use temporalio_client::{Client, WorkflowDescribeOptions, WorkflowHandle};
use temporalio_sdk::workflows::WorkflowImplementation;
use utoipa::OpenApi;

use crate::domain::OrderId;
use crate::metrics::Metrics;
use crate::plugins::Registry;
use crate::store::Store;
use crate::workflows::OrderWorkflow;
pub use auth::{Access, Role};
use error::ApiError;
pub use server::{HEADER_READ_TIMEOUT, serve};

/// What handlers share.
#[derive(Clone)]
pub struct AppState(Arc<StateInner>);

/// The fields of [`AppState`].
#[allow(missing_debug_implementations)] // holds clients without Debug; AppState's Debug names what matters
pub struct StateInner {
    pub client: Client,
    pub store: Arc<dyn Store>,
    pub registry: Arc<Registry>,
    pub metrics: Arc<Metrics>,
    pub orders_queue: String,
    /// Publishes and rolls back plugin versions for every process.
    pub rollout: Arc<crate::rollout::Rollout>,
    /// Who may call what (`CLIENT_TOKENS`, `OPERATOR_TOKENS`, `ADMIN_TOKENS`).
    pub access: Access,
    /// How long to wait for Temporal or a worker before answering 503.
    pub command_timeout: Duration,
    /// Finished orders' documents, read from Temporal once.
    pub finished: Arc<crate::status::FinishedDocuments>,
}

impl std::ops::Deref for AppState {
    type Target = StateInner;

    fn deref(&self) -> &StateInner {
        &self.0
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("orders_queue", &self.orders_queue).finish_non_exhaustive()
    }
}

type OrderHandle = WorkflowHandle<Client, <OrderWorkflow as WorkflowImplementation>::Run>;

impl AppState {
    pub fn new(inner: StateInner) -> Self {
        AppState(Arc::new(inner))
    }

    fn order_handle(&self, id: &OrderId) -> OrderHandle {
        self.client.get_workflow_handle::<<OrderWorkflow as WorkflowImplementation>::Run>(id.to_string())
    }

    async fn workflow_exists(&self, id: &OrderId) -> bool {
        let handle = self.order_handle(id);
        let describe = handle.describe(WorkflowDescribeOptions::default());
        matches!(tokio::time::timeout(self.command_timeout, describe).await, Ok(Ok(_)))
    }
}

/// The OpenAPI document, generated from the handlers' annotations.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "order-host", description = "Orders on Temporal, business logic in WebAssembly plugins"),
    paths(
        orders::start, orders::approve, orders::cancel, orders::update_address, orders::status, listing::list,
        listing::events, plugins::list, plugins::get, plugins::upload, plugins::rollback, plugins::promote, ops::healthz, ops::readyz,
        ops::metrics, ops::openapi, console::whoami, console::overview,
    ),
    modifiers(&BearerRoles),
    tags((name = "orders"), (name = "plugins"), (name = "operations"))
)]
pub struct ApiDoc;

/// One bearer scheme per role, so each route names the role it needs.
struct BearerRoles;

impl utoipa::Modify for BearerRoles {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        for (role, tokens) in [
            ("client", "CLIENT_TOKENS (open while unset)"),
            ("operator", "OPERATOR_TOKENS (while unset: what the client role asks)"),
            ("admin", "ADMIN_TOKENS or ADMIN_TOKEN (administration is off while unset)"),
        ] {
            let scheme = HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(format!("A token of the {role} role or higher: {tokens}")))
                .build();
            components.add_security_scheme(role, SecurityScheme::Http(scheme));
        }
    }
}

/// Liveness, readiness and metrics: part of the REST API, and all a worker-only process serves on `METRICS_ADDR`.
fn ops_routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
}

/// What a worker-only process serves on `METRICS_ADDR`: [`ops_routes`], nothing of the REST API.
pub fn ops_router(state: AppState) -> Router {
    ops_routes().fallback(not_found).method_not_allowed_fallback(method_not_allowed).with_state(state)
}

/// Every route, with JSON answers for unknown routes and wrong methods, and request metrics.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/orders", get(listing::list))
        .route("/orders/{id}/start", post(orders::start))
        .route("/orders/{id}/signals/approve", post(orders::approve))
        .route("/orders/{id}/signals/cancel", post(orders::cancel))
        .route("/orders/{id}/signals/update-address", post(orders::update_address))
        .route("/orders/{id}/status", get(orders::status))
        .route("/orders/{id}/events", get(listing::events))
        .route("/plugins", get(plugins::list))
        .route("/plugins/{slot}", get(plugins::get).put(plugins::upload))
        .route("/plugins/{slot}/rollback", post(plugins::rollback))
        .route("/plugins/{slot}/promote", post(plugins::promote))
        .route("/overview", get(console::overview))
        .route("/auth/whoami", get(console::whoami))
        .route("/ui", get(console::page))
        .route("/ui/", get(console::page))
        .route("/ui/{file}", get(console::asset))
        .merge(ops_routes())
        .route("/openapi.json", get(ops::openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Bodies are read by our own extractors, which enforce their limits and answer 413 in JSON.
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method")
}

/// Counts requests by route template and logs them.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await.into_response();
    let status = response.status().as_u16();
    state.metrics.http_request(&method, &route, status);
    tracing::debug!(%method, %route, status, elapsed_ms = started.elapsed().as_millis() as u64, "http request");
    response
}
