//! The one place the WIT worlds become Rust: host-side bindings of `wit/` for each slot's world.
//!
//! The `validator` world generates the shared `types` and `log` interfaces; the other worlds reuse them with `with`,
//! so one `Order` type serves every slot.

#![allow(clippy::all, clippy::pedantic, missing_debug_implementations)]

pub(crate) mod validator {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "validator",
        additional_derives: [PartialEq],
    });
}

pub(crate) mod payment {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "payment-processor",
        with: {
            "order:plugins/types": super::validator::order::plugins::types,
            "order:plugins/log": super::validator::order::plugins::log,
        },
    });
}

pub(crate) mod shipper {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "shipper",
        with: {
            "order:plugins/types": super::validator::order::plugins::types,
            "order:plugins/log": super::validator::order::plugins::log,
        },
    });
}

/// The WIT types (`order:plugins/types@0.1.0`) as the host sees them.
pub mod wit {
    pub use super::validator::order::plugins::log::Level;
    pub use super::validator::order::plugins::types::*;
}
