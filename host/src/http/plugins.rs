//! `/plugins`: what runs in each slot and on which process, and (with the admin token) publishing a new version or
//! rolling back, for every process at once (through [`crate::rollout`]).

use axum::Json;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use serde::Serialize;

use super::AppState;
use super::auth::{AdminRole, OperatorRole};
use super::error::{ApiError, ErrorBody};
use super::extract::read_body;
use crate::plugins::{LoadError, PluginError, PluginMeta, Slot, SlotStatus};
use crate::rollout::RolloutError;
use crate::store::{PluginVersionRow, ProcessRefusal, ProcessRow, ReleaseAction, ReleaseRow};

/// A plugin version as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PluginView {
    pub slot: String,
    pub name: String,
    pub version: String,
    pub digest: String,
    pub size_bytes: usize,
    pub source: String,
    /// RFC 3339.
    pub loaded_at: String,
}

impl From<&PluginMeta> for PluginView {
    fn from(m: &PluginMeta) -> Self {
        PluginView {
            slot: m.slot.to_string(),
            name: m.name.clone(),
            version: m.version.clone(),
            digest: m.digest.to_string(),
            size_bytes: m.size_bytes,
            source: m.source.clone(),
            loaded_at: humantime::format_rfc3339_millis(m.loaded_at).to_string(),
        }
    }
}

/// One entry of a slot's history in this process.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActivationView {
    #[serde(flatten)]
    pub plugin: PluginView,
    /// `loaded` or `rollback`.
    pub activation: String,
    pub activated_at: String,
}

/// A refused component.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefusalView {
    pub digest: Option<String>,
    pub source: String,
    pub error: String,
    pub message: String,
    pub at: String,
}

/// What one process runs in a slot.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProcessView {
    pub process_id: String,
    pub host: String,
    /// `serve`, `api` or `worker`.
    pub role: String,
    /// The digest it runs (absent: nothing).
    pub digest: Option<String>,
    /// The published version it could not load (it keeps running `digest`).
    pub refused: Option<ProcessRefusal>,
    /// RFC 3339: when it last reported.
    pub seen_at: String,
}

/// A slot: the version published for every process, which process runs what, what is active in this process and how
/// it got there, what was refused last, and what every host recorded.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SlotView {
    pub slot: String,
    /// The WIT world a component must implement for this slot.
    pub world: String,
    /// The version every process should run: the slot's newest release in the shared store that is not a canary.
    pub release: Option<ReleaseRow>,
    /// A live canary: the version a share of new orders runs (`canary_percent`).
    pub canary: Option<ReleaseRow>,
    /// Whether at least one process reports and every one runs `release`.
    pub converged: bool,
    /// The processes that reported within `PLUGIN_PROCESS_TTL`.
    pub processes: Vec<ProcessView>,
    /// The shared store's releases of this slot (publishes and rollbacks), newest first.
    pub releases: Vec<ReleaseRow>,
    /// The version active in the process that answers.
    pub active: Option<PluginView>,
    /// This process's activations, oldest first.
    pub history: Vec<ActivationView>,
    pub last_refusal: Option<RefusalView>,
    /// Activations recorded in the database by every host, newest first.
    pub recorded: Vec<PluginVersionRow>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PluginList {
    pub slots: Vec<SlotView>,
}

async fn slot_view(state: &AppState, status: SlotStatus, fleet: &[ProcessRow]) -> Result<SlotView, ApiError> {
    let recorded = state.store.plugin_versions(Some(status.slot.as_str()), 20).await?;
    let releases = state.store.plugin_releases(status.slot.as_str(), 20).await?;
    let release = releases.iter().find(|r| r.action != ReleaseAction::Canary).cloned();
    let canary = releases.first().filter(|r| r.action == ReleaseAction::Canary).cloned();
    let processes: Vec<ProcessView> = fleet
        .iter()
        .map(|p| ProcessView {
            process_id: p.process_id.clone(),
            host: p.host.clone(),
            role: p.role.clone(),
            digest: p.digests.get(status.slot.as_str()).cloned(),
            refused: p.refusals.get(status.slot.as_str()).cloned(),
            seen_at: humantime::format_rfc3339_millis(p.seen_at.into()).to_string(),
        })
        .collect();
    // Nobody reporting is not a converged fleet.
    let converged = !processes.is_empty()
        && processes.iter().all(|p| p.digest.as_deref() == release.as_ref().map(|r| r.digest.as_str()));
    Ok(SlotView {
        slot: status.slot.to_string(),
        world: status.slot.world().to_owned(),
        release,
        canary,
        converged,
        processes,
        releases,
        active: status.active.as_deref().map(PluginView::from),
        history: status
            .history
            .iter()
            .map(|r| ActivationView {
                plugin: PluginView::from(r.meta.as_ref()),
                activation: serde_json::to_value(r.activation)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                activated_at: humantime::format_rfc3339_millis(r.activated_at).to_string(),
            })
            .collect(),
        last_refusal: status.last_refusal.map(|r| RefusalView {
            digest: r.digest.map(|d| d.to_string()),
            source: r.source,
            error: r.error.code().to_owned(),
            message: r.error.to_string(),
            at: humantime::format_rfc3339_millis(r.at).to_string(),
        }),
        recorded,
    })
}

fn parse_slot(slot: &str) -> Result<Slot, ApiError> {
    slot.parse().map_err(|e: crate::plugins::UnknownSlot| ApiError::not_found(e.to_string()))
}

/// Every slot.
#[utoipa::path(get, path = "/plugins", tag = "plugins", security(("operator" = [])),
    responses(
        (status = 200, description = "All slots", body = PluginList),
        (status = 401, description = "A token is needed", body = ErrorBody),
        (status = 403, description = "A token below the operator role", body = ErrorBody),
    ))]
pub async fn list(_: OperatorRole, State(state): State<AppState>) -> Result<Json<PluginList>, ApiError> {
    let fleet = state.rollout.fleet().await?;
    let mut slots = Vec::new();
    for slot in Slot::ALL {
        slots.push(slot_view(&state, state.registry.status(slot), &fleet).await?);
    }
    Ok(Json(PluginList { slots }))
}

/// One slot.
#[utoipa::path(get, path = "/plugins/{slot}", tag = "plugins",
    params(("slot" = String, Path, description = "validation, payment or shipping")),
    security(("operator" = [])),
    responses(
        (status = 200, description = "The slot", body = SlotView),
        (status = 401, description = "A token is needed", body = ErrorBody),
        (status = 403, description = "A token below the operator role", body = ErrorBody),
        (status = 404, description = "Unknown slot", body = ErrorBody),
    ))]
pub async fn get(
    _: OperatorRole,
    State(state): State<AppState>,
    UrlPath(slot): UrlPath<String>,
) -> Result<Json<SlotView>, ApiError> {
    let slot = parse_slot(&slot)?;
    let fleet = state.rollout.fleet().await?;
    Ok(Json(slot_view(&state, state.registry.status(slot), &fleet).await?))
}

/// `?canary=<percent>`: publish as a canary for that share of new orders.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct UploadQuery {
    /// 1–99: the share of new orders that get this version (chosen from the order id, fixed for the order's life);
    /// the stable version stays until `POST /plugins/{slot}/promote` or a rollback.
    pub canary: Option<u8>,
}

/// Uploads a component for the slot: checked exactly like `order-host plugins check`, then published to the shared
/// store, which every process follows; this one runs it before answering.
#[utoipa::path(put, path = "/plugins/{slot}", tag = "plugins",
    params(("slot" = String, Path, description = "validation, payment or shipping"), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The component bytes"),
    security(("admin" = [])),
    responses(
        (status = 200, description = "The new active version", body = PluginView),
        (status = 400, description = "Not a component, or not of the slot's world", body = ErrorBody),
        (status = 401, description = "Missing or unknown token, or uploads disabled", body = ErrorBody),
        (status = 403, description = "A token below the admin role", body = ErrorBody),
        (status = 404, description = "Unknown slot", body = ErrorBody),
        (status = 408, description = "The body stalled", body = ErrorBody),
        (status = 503, description = "The host could not judge the component now (no free instance, compiler fault), or the database is unavailable", body = ErrorBody),
        (status = 413, description = "Too large", body = ErrorBody),
    ))]
pub async fn upload(
    _: AdminRole,
    State(state): State<AppState>,
    UrlPath(slot): UrlPath<String>,
    query: Result<axum::extract::Query<UploadQuery>, axum::extract::rejection::QueryRejection>,
    body: Body,
) -> Result<Json<PluginView>, ApiError> {
    // The admin role is checked before a byte of the body is read: a caller without it costs no memory.
    let slot = parse_slot(&slot)?;
    let axum::extract::Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let limit = state.registry.runtime().config().max_component_bytes;
    let bytes = read_body(body, limit).await?;
    let meta = state.rollout.publish(slot, bytes.to_vec(), "upload", query.canary).await.map_err(rollout_error)?;
    tracing::info!(%slot, digest = %meta.digest, name = %meta.name, version = %meta.version, "plugin uploaded and published");
    Ok(Json(PluginView::from(meta.as_ref())))
}

/// `?expect=<release id>`: roll back only if that is still the slot's newest release.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct RollbackQuery {
    /// The release id the caller saw as newest (`release.id` of `GET /plugins/{slot}`); a retry then never undoes
    /// the rollback it retries.
    pub expect: Option<i64>,
}

/// Re-activates the slot's previous version, for every process.
#[utoipa::path(post, path = "/plugins/{slot}/rollback", tag = "plugins",
    params(("slot" = String, Path, description = "validation, payment or shipping"), RollbackQuery),
    security(("admin" = [])),
    responses(
        (status = 200, description = "The version now active", body = PluginView),
        (status = 401, description = "Missing or unknown token, or administration disabled", body = ErrorBody),
        (status = 403, description = "A token below the admin role", body = ErrorBody),
        (status = 404, description = "Unknown slot", body = ErrorBody),
        (status = 400, description = "A malformed query", body = ErrorBody),
        (status = 409, description = "No earlier version, or the newest release is not the expected one", body = ErrorBody),
    ))]
pub async fn rollback(
    _: AdminRole,
    State(state): State<AppState>,
    UrlPath(slot): UrlPath<String>,
    query: Result<axum::extract::Query<RollbackQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<PluginView>, ApiError> {
    let slot = parse_slot(&slot)?;
    let axum::extract::Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let release = state.rollout.rollback(slot, query.expect).await.map_err(rollout_error)?;
    Ok(Json(release_view(release)))
}

/// Makes the slot's live canary its stable version, for every process.
#[utoipa::path(post, path = "/plugins/{slot}/promote", tag = "plugins",
    params(("slot" = String, Path, description = "validation, payment or shipping")),
    security(("admin" = [])),
    responses(
        (status = 200, description = "The version now stable", body = PluginView),
        (status = 401, description = "Missing or unknown token, or administration disabled", body = ErrorBody),
        (status = 403, description = "A token below the admin role", body = ErrorBody),
        (status = 404, description = "Unknown slot", body = ErrorBody),
        (status = 409, description = "No live canary", body = ErrorBody),
    ))]
pub async fn promote(
    _: AdminRole,
    State(state): State<AppState>,
    UrlPath(slot): UrlPath<String>,
) -> Result<Json<PluginView>, ApiError> {
    let slot = parse_slot(&slot)?;
    let release = state.rollout.promote(slot).await.map_err(rollout_error)?;
    Ok(Json(release_view(release)))
}

fn release_view(release: ReleaseRow) -> PluginView {
    PluginView {
        slot: release.slot,
        name: release.name,
        version: release.version,
        digest: release.digest,
        size_bytes: usize::try_from(release.size_bytes).unwrap_or(usize::MAX),
        source: release.source,
        loaded_at: humantime::format_rfc3339_millis(release.created_at.into()).to_string(),
    }
}

fn rollout_error(e: RolloutError) -> ApiError {
    match e {
        RolloutError::Refused(e) => {
            let status = match e {
                LoadError::TooLarge { .. } => 413,
                LoadError::Superseded(_) => 409,
                LoadError::Internal(_) | LoadError::Trial(PluginError::Busy(_)) => 503,
                _ => 400,
            };
            ApiError::new(status.try_into().expect("valid status"), e.code(), e.to_string())
        }
        RolloutError::NoEarlierVersion(_) | RolloutError::NoCanary(_) => ApiError::conflict(e.to_string()),
        RolloutError::CanaryPercent(_) => ApiError::bad_request("invalid_query", e.to_string()),
        RolloutError::CanaryUnavailable { .. } => ApiError::internal("the canary is not loaded here", &e),
        RolloutError::Store(crate::store::StoreError::Conflict(why)) => ApiError::conflict(why),
        RolloutError::Store(e) => e.into(),
        RolloutError::Corrupt { .. } => ApiError::internal("the plugin store is inconsistent", &e),
    }
}
