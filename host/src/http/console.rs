//! The operator console (`GET /ui`): three static files compiled into the binary, and the two reads only the console
//! needs — who the caller is (`GET /auth/whoami`) and the overview (`GET /overview`). Everything else the console shows
//! comes from the ordinary API with the caller's own token, so it can never do more than that token may.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::AppState;
use super::auth::{Caller, OperatorRole, Role};
use super::error::{ApiError, ErrorBody};
use crate::store::EventRow;

/// The console's files: (name, content type, bytes).
const ASSETS: [(&str, &str, &str); 3] = [
    ("index.html", "text/html; charset=utf-8", include_str!("../../ui/index.html")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("../../ui/app.js")),
    ("app.css", "text/css; charset=utf-8", include_str!("../../ui/app.css")),
];

/// Scripts, styles and requests from this origin only; nothing inline, no frames.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// `GET /ui`: the console's page.
pub async fn page() -> Response {
    asset_response("index.html")
}

/// `GET /ui/{file}`: its script and style sheet.
pub async fn asset(Path(file): Path<String>) -> Response {
    asset_response(&file)
}

fn asset_response(name: &str) -> Response {
    let Some((_, content_type, body)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        return ApiError::not_found(format!("the console has no file {name:?}")).into_response();
    };
    let mut response = (*body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// What the caller may do.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WhoAmI {
    /// The highest role the caller has (`client`, `operator`, `admin`), or `null` with none.
    pub role: Option<&'static str>,
    /// Each role, and whether the caller has it.
    pub may: BTreeMap<&'static str, bool>,
}

/// Who the caller is: the role its token (or no token) gives. An unknown token is a 401, as everywhere.
#[utoipa::path(get, path = "/auth/whoami", tag = "operations",
    responses(
        (status = 200, description = "The caller's role", body = WhoAmI),
        (status = 401, description = "An unknown token", body = ErrorBody),
    ))]
pub async fn whoami(caller: Caller) -> Result<Json<WhoAmI>, ApiError> {
    caller.known()?;
    let may: BTreeMap<_, _> = [Role::Client, Role::Operator, Role::Admin]
        .into_iter()
        .map(|r| (r.name(), caller.require(r).is_ok()))
        .collect();
    let role = [Role::Admin, Role::Operator, Role::Client].into_iter().find(|r| may[r.name()]).map(Role::name);
    Ok(Json(WhoAmI { role, may }))
}

/// The console's overview.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Overview {
    /// Orders in each state.
    pub counts: BTreeMap<String, u64>,
    /// Orders received per minute, averaged over the last 1, 10 and 60 minutes.
    pub per_minute: BTreeMap<String, f64>,
    /// The newest failed activity attempts, newest first.
    pub recent_failures: Vec<EventRow>,
    /// Orders a person must look at (e.g. a refund that did not go through), with the latest message.
    pub needing_attention: Vec<Attention>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Attention {
    pub order_id: String,
    pub message: String,
}

/// Counts by state, orders per minute, recent failures and orders needing attention.
#[utoipa::path(get, path = "/overview", tag = "orders",
    security(("operator" = [])),
    responses(
        (status = 200, description = "The overview", body = Overview),
        (status = 401, description = "A token is needed", body = ErrorBody),
        (status = 403, description = "A token below the operator role", body = ErrorBody),
    ))]
pub async fn overview(_: OperatorRole, State(state): State<AppState>) -> Result<Json<Overview>, ApiError> {
    let now = chrono::Utc::now();
    let store = &state.store;
    let (counts, failures, attention) =
        tokio::join!(store.count_by_state(), store.recent_failures(20), store.needing_attention(20));
    let mut per_minute = BTreeMap::new();
    for minutes in [1_u32, 10, 60] {
        let since = now - chrono::Duration::minutes(i64::from(minutes));
        let n = store.count_created_since(since).await?;
        per_minute.insert(format!("last_{minutes}m"), n as f64 / f64::from(minutes));
    }
    Ok(Json(Overview {
        counts: counts?.into_iter().map(|(s, n)| (s.to_string(), n)).collect(),
        per_minute,
        recent_failures: failures?,
        needing_attention: attention?.into_iter().map(|(order_id, message)| Attention { order_id, message }).collect(),
    }))
}
