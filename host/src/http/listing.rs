//! `GET /orders` and `GET /orders/{id}/events`: what the operator role reads.

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::OperatorRole;
use super::error::{ApiError, ErrorBody};
use super::extract::OrderPath;
use crate::domain::OrderState;
use crate::store::{EventRow, OrderFilter, OrderRow};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only orders in this state.
    pub state: Option<String>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<u32>,
    /// How many to skip.
    pub offset: Option<u32>,
}

/// An order in a listing: its row and its newest failed attempt.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListedOrder {
    #[serde(flatten)]
    pub order: OrderRow,
    /// The message of the order's newest failed activity attempt, if any.
    pub last_error: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderList {
    pub orders: Vec<ListedOrder>,
    pub limit: u32,
    pub offset: u32,
    /// The offset of the next page, if there may be one.
    pub next_offset: Option<u32>,
}

/// Lists orders, newest first.
#[utoipa::path(get, path = "/orders", tag = "orders", params(ListQuery),
    security(("operator" = [])),
    responses(
        (status = 200, description = "A page of orders", body = OrderList),
        (status = 401, description = "A token is needed", body = ErrorBody),
        (status = 403, description = "A token below the operator role", body = ErrorBody),
        (status = 400, description = "Bad filter or page", body = ErrorBody),
    ))]
pub async fn list(
    _: OperatorRole,
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<OrderList>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let filter_state = query
        .state
        .as_deref()
        .map(str::parse::<OrderState>)
        .transpose()
        .map_err(|e| ApiError::bad_request("invalid_query", e))?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::bad_request("invalid_query", "limit must be between 1 and 200"));
    }
    let offset = query.offset.unwrap_or(0);
    let orders = state.store.list_orders(&OrderFilter { state: filter_state, limit, offset }).await?;
    let next_offset = (orders.len() == limit as usize).then_some(offset + limit);
    let ids: Vec<String> = orders.iter().map(|o| o.order_id.clone()).collect();
    let mut last_errors: std::collections::HashMap<_, _> = state.store.last_errors(&ids).await?.into_iter().collect();
    let orders = orders
        .into_iter()
        .map(|order| ListedOrder { last_error: last_errors.remove(&order.order_id), order })
        .collect();
    Ok(Json(OrderList { orders, limit, offset, next_offset }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventList {
    pub order_id: String,
    pub events: Vec<EventRow>,
}

/// An order's events, oldest first: every activity attempt, state change and command.
#[utoipa::path(get, path = "/orders/{id}/events", tag = "orders",
    params(("id" = String, Path, description = "Order id", pattern = r"^[A-Za-z0-9._-]{1,64}$")),
    security(("operator" = [])),
    responses(
        (status = 200, description = "The events", body = EventList),
        (status = 401, description = "A token is needed", body = ErrorBody),
        (status = 403, description = "A token below the operator role", body = ErrorBody),
        (status = 404, description = "Unknown order", body = ErrorBody),
    ))]
pub async fn events(
    _: OperatorRole,
    State(state): State<AppState>,
    OrderPath(id): OrderPath,
) -> Result<Json<EventList>, ApiError> {
    let events = state.store.events(id.as_str(), 10_000).await?;
    if events.is_empty() && state.store.get_order(id.as_str()).await?.is_none() && !state.workflow_exists(&id).await {
        return Err(ApiError::not_found(format!("no order {id}")));
    }
    Ok(Json(EventList { order_id: id.to_string(), events }))
}
