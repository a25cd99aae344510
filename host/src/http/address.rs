//! An address change is judged by the validation plugin, with the same rules as the order's first address, before
//! it is sent to the workflow: a rejected address changes nothing and the client hears the plugin's reasons.

use super::AppState;
use super::error::ApiError;
use crate::domain::{Address, OrderId, OrderInput, OrderOptions};
use crate::plugins::{PluginError, Slot, convert};

/// The address as the validator normalised it, or 422 with its reasons. An order not recorded yet is left to the
/// workflow, whose validation step will judge the new address with the rest of the order; a finished one too, which
/// refuses any change (409).
pub async fn validated(state: &AppState, id: &OrderId, address: Address) -> Result<Address, ApiError> {
    let Some(row) = state.store.get_order(id.as_str()).await? else { return Ok(address) };
    if row.state.is_terminal() {
        // The workflow refuses it with the reason (409) whatever the address is.
        return Ok(address);
    }
    let order = OrderInput {
        order_id: row.order_id,
        payment_id: row.payment_id,
        items: row.items,
        address,
        options: OrderOptions::default(),
    };
    let wit_order = convert::order(&order, 0, 1);
    let call = state.registry.call(Slot::Validation, move |p| p.validate(&wit_order)).await;
    match call.outcome {
        // What the plugin hands back is held to the shape every address has.
        Ok(valid) => Address::parse(&convert::order_back(valid.order, &order).address).map_err(|e| {
            ApiError::unavailable(format!("the validation plugin returned an unusable address ({e}); try again"))
        }),
        Err(PluginError::Permanent { message, .. }) => {
            Err(ApiError::unprocessable(format!("the validation plugin refused the address: {message}")))
        }
        Err(e) => {
            tracing::warn!(order_id = %id, error = %e, "the validation plugin could not judge an address change");
            Err(ApiError::unavailable(format!("the address could not be validated now ({e}); try again")))
        }
    }
}
