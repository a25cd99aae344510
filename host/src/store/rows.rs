//! Row mapping and the transition statement both adapters share, expanded per backend like [`super::sql`].

/// Free functions over `$db`'s rows: `apply_transition`, `order_row`, `payment_row` and their helpers.
macro_rules! impl_sql_rows {
    ($db:ty) => {
        /// Applies a transition — the order's fields and its state — if `seq` is newer than the row's: one statement,
        /// atomic on its own or inside the caller's transaction.
        async fn apply_transition(
            conn: &mut <$db as sqlx::Database>::Connection,
            order_id: &str,
            t: &$crate::store::Transition,
        ) -> Result<bool, $crate::store::StoreError> {
            let query = sqlx::query($crate::store::rows::transition_sql!());
            let done = bind_transition(query, Some(order_id), t)?.execute(&mut *conn).await?;
            Ok(done.rows_affected() == 1)
        }

        /// [`transition_sql!`]'s arguments, `$1` to `$11` (no order id: a transition that changes nothing).
        fn bind_transition<'q>(
            query: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>,
            order_id: Option<&'q str>,
            t: &'q $crate::store::Transition,
        ) -> Result<sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>, $crate::store::StoreError> {
            Ok(query
                .bind(order_id)
                .bind(i64::from(t.seq))
                .bind(t.state.map(|s| s.as_str()))
                .bind(t.step.as_deref())
                .bind(t.total_cents.map(cents).transpose()?)
                .bind(t.items.as_ref().map(sqlx::types::Json))
                .bind(t.address.as_ref().map(sqlx::types::Json))
                .bind(t.package_id.as_deref())
                .bind(t.carrier.as_deref())
                .bind(t.tracking.as_deref())
                .bind(chrono::Utc::now()))
        }

        /// An event's columns after the order id ([`event_columns!`] but the first), as the next nine arguments.
        fn bind_event<'q>(
            query: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>,
            e: &'q $crate::store::NewEvent,
        ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>> {
            query
                .bind(&e.kind)
                .bind(e.activity.as_deref())
                .bind(e.attempt.map(|a| i32::try_from(a).unwrap_or(i32::MAX)))
                .bind(e.outcome.as_deref())
                .bind(e.message.as_deref())
                .bind(e.plugin_digest.as_deref())
                .bind(e.state.map(|s| s.as_str()))
                .bind(e.details.as_ref().map(sqlx::types::Json))
                .bind(chrono::Utc::now())
        }

        fn order_row(r: &<$db as sqlx::Database>::Row) -> Result<$crate::store::OrderRow, $crate::store::StoreError> {
            use sqlx::Row as _;
            let state: String = r.try_get("state")?;
            let total: Option<i64> = r.try_get("total_cents")?;
            let items: sqlx::types::Json<Vec<$crate::domain::Item>> = r.try_get("items_json")?;
            let address: sqlx::types::Json<$crate::domain::Address> = r.try_get("address_json")?;
            Ok($crate::store::OrderRow {
                order_id: r.try_get("id")?,
                run_id: r.try_get("run_id")?,
                payment_id: r.try_get("payment_id")?,
                state: parse_state(&state)?,
                step: r.try_get("step")?,
                items: items.0,
                address: address.0,
                total_cents: total.map(|t| t.max(0) as u64),
                package_id: r.try_get("package_id")?,
                carrier: r.try_get("carrier")?,
                tracking: r.try_get("tracking")?,
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
            })
        }

        fn payment_row(
            r: &<$db as sqlx::Database>::Row,
        ) -> Result<$crate::store::PaymentRow, $crate::store::StoreError> {
            use sqlx::Row as _;
            let status: String = r.try_get("status")?;
            let amount: i64 = r.try_get("amount_cents")?;
            Ok($crate::store::PaymentRow {
                payment_id: r.try_get("payment_id")?,
                order_id: r.try_get("order_id")?,
                amount_cents: amount.max(0) as u64,
                status: $crate::domain::PaymentState::parse(&status)
                    .ok_or_else(|| $crate::store::StoreError::Corrupt(format!("payment status {status:?}")))?,
                transaction_id: r.try_get("transaction_id")?,
                refund_id: r.try_get("refund_id")?,
                plugin_digest: r.try_get("plugin_digest")?,
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
            })
        }

        fn parse_state(s: &str) -> Result<$crate::domain::OrderState, $crate::store::StoreError> {
            s.parse().map_err($crate::store::StoreError::Corrupt)
        }

        fn cents(v: u64) -> Result<i64, $crate::store::StoreError> {
            i64::try_from(v).map_err(|_| $crate::store::StoreError::Conflict(format!("{v} does not fit in BIGINT")))
        }
    };
}

/// The transition statement: `$1` the order id, `$2` the sequence number, `$3`–`$10` the fields (NULL keeps the
/// row's), `$11` the time. Changes nothing unless `$2` is newer than the row's.
macro_rules! transition_sql {
    () => {
        "UPDATE orders SET
            state = COALESCE($3, state),
            step = COALESCE($4, step),
            total_cents = COALESCE($5, total_cents),
            items_json = COALESCE($6, items_json),
            address_json = COALESCE($7, address_json),
            package_id = COALESCE($8, package_id),
            carrier = COALESCE($9, carrier),
            tracking = COALESCE($10, tracking),
            state_seq = $2,
            updated_at = $11
         WHERE id = $1 AND state_seq < $2"
    };
}

/// The events table's columns, in the order [`impl_sql_rows`]' `bind_event` binds them after the order id.
macro_rules! event_columns {
    () => {
        "order_id, event_type, activity, attempt, outcome, message, plugin_digest, state, payload_json, \"timestamp\""
    };
}

pub(crate) use {event_columns, impl_sql_rows, transition_sql};
