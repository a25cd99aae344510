//! `/orders`: start an order, send it commands, read its status, list orders and events.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use temporalio_client::errors::{WorkflowStartError, WorkflowUpdateError};
use temporalio_client::{WorkflowExecuteUpdateOptions, WorkflowIdReusePolicy, WorkflowStartOptions};
use temporalio_common::data_converters::RawValue;

use super::AppState;
use super::auth::{ClientRole, OperatorRole, Role};
use super::error::{ApiError, ErrorBody};
use super::extract::{JsonBody, OptionalJson, OrderPath};
use crate::domain::payloads::{CancelRequest, CommandOutcome};
use crate::domain::{Address, Item, OrderId, OrderInput, OrderOptions, OrderState, PaymentId, StatusDocument, sample};
use crate::status::{StatusError, StatusReader};
use crate::store::NewEvent;
use crate::workflows::OrderWorkflow;
use crate::workflows::messages::{self, to_raw};

/// `POST /orders/{id}/start`. Without `items` and `address` the documented sample cart is used: 2 × `SKU-001` at
/// $15.00 and 1 × `SKU-002` at $12.00, to 123 Main St, Springfield, IL 62701.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// The payment's id, used as the payment processor's idempotency key: 1–64 of `A–Z a–z 0–9 . _ -`.
    pub payment_id: String,
    pub items: Option<Vec<Item>>,
    pub address: Option<Address>,
    /// Per-order overrides of the approval timeout, its outcome and the shipping attempts.
    pub options: Option<OrderOptions>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StartResponse {
    pub order_id: String,
    pub workflow_id: String,
    pub run_id: String,
    pub status_url: String,
}

/// Starts an order.
#[utoipa::path(post, path = "/orders/{id}/start", tag = "orders",
    params(("id" = String, Path, description = "Order id, also the workflow id", pattern = r"^[A-Za-z0-9._-]{1,64}$")),
    request_body = StartRequest,
    security(("client" = [])),
    responses(
        (status = 202, description = "Started", body = StartResponse),
        (status = 400, description = "Malformed JSON or bad id", body = ErrorBody),
        (status = 401, description = "A token is needed", body = ErrorBody),
        (status = 403, description = "A token below the client role, or options without the operator role", body = ErrorBody),
        (status = 409, description = "An order with this id exists, or existed", body = ErrorBody),
        (status = 422, description = "Invalid body, or options out of range", body = ErrorBody),
        (status = 503, description = "Temporal unreachable", body = ErrorBody),
    ))]
pub async fn start(
    ClientRole(caller): ClientRole,
    State(state): State<AppState>,
    OrderPath(id): OrderPath,
    JsonBody(request): JsonBody<StartRequest>,
) -> Result<(StatusCode, Json<StartResponse>), ApiError> {
    if let Some(options) = &request.options {
        // Options decide how long an order waits for a person and whether the wait's end approves it.
        caller.require(Role::Operator)?;
        options.check().map_err(|e| ApiError::unprocessable(e.to_string()))?;
    }
    let payment_id = PaymentId::parse(&request.payment_id).map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let address = match request.address {
        Some(a) => Address::parse(&a).map_err(|e| ApiError::invalid_address(&e))?,
        None => sample::address(),
    };
    let input = OrderInput {
        order_id: id.to_string(),
        payment_id: payment_id.to_string(),
        items: request.items.unwrap_or_else(sample::items),
        address,
        options: request.options.unwrap_or_default(),
    };
    // An order id is used once, ever: Temporal forgets finished runs after its retention, the orders table does not.
    if let Some(row) = state.store.get_order(id.as_str()).await? {
        return Err(ApiError::conflict(format!("order {id} already exists ({}); an order id is used once", row.state)));
    }
    let options = WorkflowStartOptions::new(state.orders_queue.clone(), id.to_string())
        .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
        // When this process also runs the orders worker (`serve`), the server hands the first workflow task back in
        // the start's answer instead of through a poll; otherwise the start is an ordinary one.
        .enable_eager_workflow_start(true)
        .build();
    let started = tokio::time::timeout(
        state.command_timeout,
        state.client.start_workflow(OrderWorkflow::run, messages::start_input(&input), options),
    )
    .await
    .map_err(|_| ApiError::unavailable("Temporal did not answer the start in time"))?;
    let handle = match started {
        Ok(handle) => handle,
        Err(WorkflowStartError::AlreadyStarted { .. }) => {
            return Err(ApiError::conflict(format!("order {id} already exists (running or finished)")));
        }
        Err(e) => return Err(temporal_unavailable(&e)),
    };
    let run_id = handle.info().run_id.clone().unwrap_or_default();
    tracing::info!(order_id = %id, workflow_id = %id, %run_id, "order started");
    record_command(&state, &id, "start", None).await;
    Ok((
        StatusCode::ACCEPTED,
        Json(StartResponse {
            order_id: id.to_string(),
            workflow_id: id.to_string(),
            run_id,
            status_url: format!("/orders/{id}/status"),
        }),
    ))
}

/// Approves an order (no body needed).
#[utoipa::path(post, path = "/orders/{id}/signals/approve", tag = "orders",
    params(("id" = String, Path, description = "Order id", pattern = r"^[A-Za-z0-9._-]{1,64}$")),
    security(("operator" = [])),
    responses(
        (status = 200, description = "Accepted; the order's state", body = CommandOutcomeSchema),
        (status = 401, description = "A token is needed", body = ErrorBody),
        (status = 403, description = "A token below the operator role", body = ErrorBody),
        (status = 404, description = "Unknown order", body = ErrorBody),
        (status = 409, description = "Not awaiting approval", body = ErrorBody),
        (status = 503, description = "No worker answered in time", body = ErrorBody),
    ))]
pub async fn approve(
    _: OperatorRole,
    State(state): State<AppState>,
    OrderPath(id): OrderPath,
) -> Result<Json<CommandOutcome>, ApiError> {
    command(&state, &id, Command::Approve, to_raw::<()>(None)).await
}

/// Cancels an order; a charged payment is refunded. Body optional: `{"reason": "…"}`.
#[utoipa::path(post, path = "/orders/{id}/signals/cancel", tag = "orders",
    params(("id" = String, Path, description = "Order id", pattern = r"^[A-Za-z0-9._-]{1,64}$")),
    request_body(content = Option<CancelBody>, description = "Optional reason"),
    security(("client" = [])),
    responses(
        (status = 200, description = "Accepted", body = CommandOutcomeSchema),
        (status = 401, description = "A token is needed", body = ErrorBody),
        (status = 403, description = "A token below the client role", body = ErrorBody),
        (status = 404, description = "Unknown order", body = ErrorBody),
        (status = 409, description = "Already dispatched or finished", body = ErrorBody),
        (status = 422, description = "Invalid body", body = ErrorBody),
        (status = 503, description = "No worker answered in time", body = ErrorBody),
    ))]
pub async fn cancel(
    _: ClientRole,
    State(state): State<AppState>,
    OrderPath(id): OrderPath,
    OptionalJson(body): OptionalJson<CancelBody>,
) -> Result<Json<CommandOutcome>, ApiError> {
    let request = CancelRequest { reason: body.and_then(|b| b.reason) };
    command(&state, &id, Command::Cancel, to_raw(Some(&request))).await
}

/// `POST /orders/{id}/signals/cancel`'s optional body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    pub reason: Option<String>,
}

/// Changes the delivery address until the parcel is dispatched.
#[utoipa::path(post, path = "/orders/{id}/signals/update-address", tag = "orders",
    params(("id" = String, Path, description = "Order id", pattern = r"^[A-Za-z0-9._-]{1,64}$")),
    request_body = Address,
    security(("client" = [])),
    responses(
        (status = 200, description = "Accepted", body = CommandOutcomeSchema),
        (status = 401, description = "A token is needed", body = ErrorBody),
        (status = 403, description = "A token below the client role", body = ErrorBody),
        (status = 404, description = "Unknown order", body = ErrorBody),
        (status = 409, description = "Already dispatched or finished", body = ErrorBody),
        (status = 422, description = "Invalid address", body = ErrorBody),
        (status = 503, description = "No worker answered in time", body = ErrorBody),
    ))]
pub async fn update_address(
    _: ClientRole,
    State(state): State<AppState>,
    OrderPath(id): OrderPath,
    JsonBody(raw): JsonBody<AddressBody>,
) -> Result<Json<CommandOutcome>, ApiError> {
    let address = Address { street: raw.street, city: raw.city, state: raw.state, zip_code: raw.zip_code };
    let address = Address::parse(&address).map_err(|e| ApiError::invalid_address(&e))?;
    let address = super::address::validated(&state, &id, address).await?;
    command(&state, &id, Command::UpdateAddress, to_raw(Some(&address))).await
}

/// An address as clients send it (unknown fields refused).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressBody {
    pub street: String,
    pub city: String,
    pub state: String,
    pub zip_code: String,
}

/// What a command answers (documentation mirror of [`CommandOutcome`]).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CommandOutcomeSchema {
    pub order_id: String,
    pub command: String,
    pub state: OrderState,
    pub message: String,
}

#[derive(Debug, Clone, Copy)]
enum Command {
    Approve,
    Cancel,
    UpdateAddress,
}

impl Command {
    fn name(self) -> &'static str {
        match self {
            Command::Approve => "approve_order",
            Command::Cancel => "cancel_order",
            Command::UpdateAddress => "update_address",
        }
    }
}

/// Sends a command as a workflow update, so the caller learns whether it was accepted: 200 with the state, 409
/// with the validator's reason, 404 for an unknown order, 503 when no worker answered within the command timeout.
async fn command(
    state: &AppState,
    id: &OrderId,
    command: Command,
    input: RawValue,
) -> Result<Json<CommandOutcome>, ApiError> {
    let handle = state.order_handle(id);
    let options = WorkflowExecuteUpdateOptions::default();
    let call = async {
        match command {
            Command::Approve => handle.execute_update(OrderWorkflow::approve_order_update, input, options).await,
            Command::Cancel => handle.execute_update(OrderWorkflow::cancel_order_update, input, options).await,
            Command::UpdateAddress => handle.execute_update(OrderWorkflow::update_address_update, input, options).await,
        }
    };
    let Ok(result) = tokio::time::timeout(state.command_timeout, call).await else {
        tracing::warn!(order_id = %id, command = command.name(), "no worker answered the command in time");
        return Err(ApiError::unavailable(format!(
            "no worker answered {} within {:?}; it may still be applied when one does",
            command.name(),
            state.command_timeout
        )));
    };
    match result {
        Ok(outcome) => {
            tracing::info!(order_id = %id, workflow_id = %id, command = command.name(), state = %outcome.state, "command accepted");
            record_command(state, id, command.name(), Some(outcome.message.clone())).await;
            Ok(Json(outcome))
        }
        Err(WorkflowUpdateError::Failed(failure)) => {
            tracing::info!(order_id = %id, command = command.name(), reason = %failure.message, "command rejected");
            Err(ApiError::conflict(failure.message))
        }
        Err(WorkflowUpdateError::NotFound(_)) => Err(finished_or_unknown(state, id).await),
        Err(e) => Err(temporal_unavailable(&e)),
    }
}

/// A command reached no running workflow: a finished order is a conflict, an unknown one a 404.
async fn finished_or_unknown(state: &AppState, id: &OrderId) -> ApiError {
    match state.store.get_order(id.as_str()).await {
        Ok(Some(row)) => ApiError::conflict(format!("order {id} is {}; it takes no more commands", row.state)),
        Ok(None) => ApiError::not_found(format!("no order {id}")),
        Err(e) => e.into(),
    }
}

async fn record_command(state: &AppState, id: &OrderId, command: &str, message: Option<String>) {
    let event = NewEvent {
        activity: Some(command.to_owned()),
        outcome: Some("accepted".into()),
        message,
        ..NewEvent::new(id.as_str(), "command")
    };
    if let Err(e) = state.store.append_event(&event).await {
        tracing::warn!(order_id = %id, error = %e, "cannot record the command event");
    }
}

fn temporal_unavailable(e: &dyn std::fmt::Display) -> ApiError {
    tracing::warn!(error = %e, "Temporal call failed");
    ApiError::unavailable(format!("Temporal did not answer: {e}"))
}

/// The status document: the workflow's own view, the execution's description (pending attempts and their last
/// failure) and the events table, merged. Its `ETag` is a hash of the document: a poller that sends it back in
/// `If-None-Match` gets `304 Not Modified` and no body while nothing changed.
#[utoipa::path(get, path = "/orders/{id}/status", tag = "orders",
    params(
        ("id" = String, Path, description = "Order id", pattern = r"^[A-Za-z0-9._-]{1,64}$"),
        ("If-None-Match" = Option<String>, Header, description = "The ETag of a document already held"),
    ),
    security(("client" = [])),
    responses(
        (status = 200, description = "The status document", body = StatusDocument,
            headers(("ETag" = String, description = "Changes whenever the document does"))),
        (status = 304, description = "Unchanged since the ETag sent in If-None-Match"),
        (status = 401, description = "A token is needed", body = ErrorBody),
        (status = 403, description = "A token below the client role", body = ErrorBody),
        (status = 404, description = "Unknown order", body = ErrorBody),
    ))]
pub async fn status(
    _: ClientRole,
    State(state): State<AppState>,
    OrderPath(id): OrderPath,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let reader = StatusReader {
        client: state.client.clone(),
        store: state.store.clone(),
        timeout: state.command_timeout,
        finished: Arc::clone(&state.finished),
        metrics: Arc::clone(&state.metrics),
    };
    let doc = match reader.order_status(&id).await {
        Ok(doc) => doc,
        Err(StatusError::NotFound(_)) => return Err(ApiError::not_found(format!("no order {id}"))),
        Err(StatusError::Unavailable(why)) => return Err(ApiError::unavailable(why)),
        Err(StatusError::Store(e)) => return Err(e.into()),
    };
    let body = serde_json::to_vec(&doc).map_err(|e| ApiError::internal("encoding the status document", &e))?;
    let etag = entity_tag(&body);
    let cache = [(header::ETAG, etag.clone()), (header::CACHE_CONTROL, "no-cache".to_owned())];
    if if_none_match(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    Ok((cache, [(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// A strong entity tag for a response body: the first 16 bytes of its SHA-256, quoted.
fn entity_tag(body: &[u8]) -> String {
    use sha2::Digest as _;
    format!("\"{}\"", hex::encode(&sha2::Sha256::digest(body)[..16]))
}

/// Whether `If-None-Match` names `etag` (or is `*`). Weak tags compare by their value, as RFC 9110 asks for this
/// header.
fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers.get_all(header::IF_NONE_MATCH).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == etag
        },
    )
}

/// How long the REST API waits for Temporal or a worker before answering 503.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
