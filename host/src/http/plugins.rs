//! `/plugins`: what runs in each slot, and (with the admin token) uploading a new version or rolling back.

use std::path::Path;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use serde::Serialize;

use super::AppState;
use super::auth::{AdminRole, OperatorRole};
use super::error::{ApiError, ErrorBody};
use super::extract::read_body;
use crate::plugins::{LoadError, PluginError, PluginMeta, Slot, SlotStatus};
use crate::store::PluginVersionRow;

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

/// A slot: what is active in this process, how it got there, what was refused last, and what every host recorded.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SlotView {
    pub slot: String,
    /// The WIT world a component must implement for this slot.
    pub world: String,
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

async fn slot_view(state: &AppState, status: SlotStatus) -> Result<SlotView, ApiError> {
    let recorded = state.store.plugin_versions(Some(status.slot.as_str()), 20).await?;
    Ok(SlotView {
        slot: status.slot.to_string(),
        world: status.slot.world().to_owned(),
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
    let mut slots = Vec::new();
    for slot in Slot::ALL {
        slots.push(slot_view(&state, state.registry.status(slot)).await?);
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
    Ok(Json(slot_view(&state, state.registry.status(slot)).await?))
}

/// Uploads a component for the slot: checked exactly like `order-host plugins check`, stored content-addressed under
/// the data directory, activated atomically here and published to the plugins directory for workers watching it.
#[utoipa::path(put, path = "/plugins/{slot}", tag = "plugins",
    params(("slot" = String, Path, description = "validation, payment or shipping")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The component bytes"),
    security(("admin" = [])),
    responses(
        (status = 200, description = "The new active version", body = PluginView),
        (status = 400, description = "Not a component, or not of the slot's world", body = ErrorBody),
        (status = 401, description = "Missing or unknown token, or uploads disabled", body = ErrorBody),
        (status = 403, description = "A token below the admin role", body = ErrorBody),
        (status = 404, description = "Unknown slot", body = ErrorBody),
        (status = 408, description = "The body stalled", body = ErrorBody),
        (status = 409, description = "Another version became active while this one loaded", body = ErrorBody),
        (status = 503, description = "The host could not judge the component now (no free instance, compiler fault)", body = ErrorBody),
        (status = 413, description = "Too large", body = ErrorBody),
    ))]
pub async fn upload(
    _: AdminRole,
    State(state): State<AppState>,
    UrlPath(slot): UrlPath<String>,
    body: Body,
) -> Result<Json<PluginView>, ApiError> {
    // The admin role is checked before a byte of the body is read: a caller without it costs no memory.
    let slot = parse_slot(&slot)?;
    let limit = state.registry.runtime().config().max_component_bytes;
    let bytes = read_body(body, limit).await?;
    // Stored first, activated second: an active version always has its bytes on disk for the next start.
    let stored = state.data_dir.join("plugins").join(format!("{}.wasm", crate::plugins::Digest::of(&bytes).hex()));
    write_off_runtime(stored, bytes.to_vec()).await?;
    let registry = Arc::clone(&state.registry);
    let component = bytes.clone();
    let installed = tokio::task::spawn_blocking(move || registry.install(slot, &component, "upload"))
        .await
        .map_err(|e| ApiError::internal("plugin load task failed", &e))?;
    let meta = installed.map_err(|e| {
        let status = match e {
            LoadError::TooLarge { .. } => 413,
            LoadError::Superseded(_) => 409,
            LoadError::Internal(_) | LoadError::Trial(PluginError::Busy(_)) => 503,
            _ => 400,
        };
        ApiError::new(status.try_into().expect("valid status"), e.code(), e.to_string())
    })?;
    publish(&state, slot, &bytes).await?;
    tracing::info!(%slot, digest = %meta.digest, name = %meta.name, version = %meta.version, "plugin uploaded and active");
    Ok(Json(PluginView::from(meta.as_ref())))
}

/// Re-activates the slot's previous version.
#[utoipa::path(post, path = "/plugins/{slot}/rollback", tag = "plugins",
    params(("slot" = String, Path, description = "validation, payment or shipping")),
    security(("admin" = [])),
    responses(
        (status = 200, description = "The version now active", body = PluginView),
        (status = 401, description = "Missing or unknown token, or administration disabled", body = ErrorBody),
        (status = 403, description = "A token below the admin role", body = ErrorBody),
        (status = 404, description = "Unknown slot", body = ErrorBody),
        (status = 409, description = "No earlier version", body = ErrorBody),
    ))]
pub async fn rollback(
    _: AdminRole,
    State(state): State<AppState>,
    UrlPath(slot): UrlPath<String>,
) -> Result<Json<PluginView>, ApiError> {
    let slot = parse_slot(&slot)?;
    let meta = state.registry.rollback(slot).map_err(|e| ApiError::conflict(e.to_string()))?;
    // The bytes of the version rolled back to (stored when it was uploaded), whatever became active a moment later.
    if let Some(plugin) = state.registry.version(slot, &meta.digest) {
        publish(&state, slot, plugin.bytes()).await?;
    }
    tracing::info!(%slot, digest = %meta.digest, "plugin rolled back");
    Ok(Json(PluginView::from(meta.as_ref())))
}

/// Publishes the component as `PLUGINS_DIR/<slot>.wasm` (temporary file + rename), so a restart and every worker
/// watching the directory run the same version.
async fn publish(state: &AppState, slot: Slot, bytes: &[u8]) -> Result<(), ApiError> {
    write_off_runtime(state.plugins_dir.join(slot.file_name()), bytes.to_vec()).await
}

async fn write_off_runtime(path: std::path::PathBuf, bytes: Vec<u8>) -> Result<(), ApiError> {
    tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
        .await
        .map_err(|e| ApiError::internal("plugin store task failed", &e))?
        .map_err(|e| ApiError::internal("cannot store the plugin", &e))
}

/// Writes a temporary file of its own (process id and a counter: concurrent uploads never share one) and renames it
/// into place.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("incoming-{}-{n}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
