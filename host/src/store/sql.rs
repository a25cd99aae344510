//! The SQL both adapters share. PostgreSQL and SQLite accept the same statements here (`$n` placeholders,
//! `ON CONFLICT`, `RETURNING`), and sqlx maps the same Rust types onto each backend's columns (JSON as `JSONB` or
//! `TEXT`, timestamps as `TIMESTAMPTZ` or RFC 3339 `TEXT`), so one body, expanded per backend, serves both.

/// Implements [`super::Store`] for `$store`, a struct with a `pool: sqlx::Pool<$db>` field and a `MIGRATIONS` const.
macro_rules! impl_sql_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            async fn migrate(&self) -> Result<(), $crate::store::StoreError> {
                Self::MIGRATIONS.migrator().await?.run(&self.pool).await?;
                Ok(())
            }

            async fn ping(&self) -> Result<(), $crate::store::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn insert_order(&self, order: &$crate::store::NewOrder) -> Result<bool, $crate::store::StoreError> {
                let now = chrono::Utc::now();
                // The common case in one statement: a new order id and a payment id no other order holds. Anything
                // else (a receive run again, a conflict, a row from before owners) takes the checked way below, which
                // says why it refuses.
                if Self::insert_new_order(&self.pool, order, now).await? {
                    return Ok(true);
                }
                let mut tx = self.pool.begin().await?;
                // A row written before orders had owners is claimed by the run that receives it again, if nothing
                // happened to it yet.
                sqlx::query(
                    "UPDATE orders SET run_id = $2
                     WHERE id = $1 AND run_id IS NULL AND payment_id = $3 AND state = 'received'",
                )
                .bind(&order.order_id)
                .bind(&order.run_id)
                .bind(&order.payment_id)
                .execute(&mut *tx)
                .await?;
                // One order per payment id, whoever holds it (rows from before owners included).
                let holder: Option<(String,)> =
                    sqlx::query_as("SELECT id FROM orders WHERE payment_id = $1 AND id <> $2 LIMIT 1")
                        .bind(&order.payment_id)
                        .bind(&order.order_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                if let Some((other,)) = holder {
                    return Err($crate::store::StoreError::Conflict(format!(
                        "payment id {} is already used by order {other}",
                        order.payment_id
                    )));
                }
                // A conflict on the order id, or on the payment id with an order inserted meanwhile, inserts nothing.
                let inserted = Self::insert_new_order(&mut *tx, order, now).await?;
                let owner: Option<(Option<String>, String)> =
                    sqlx::query_as("SELECT run_id, payment_id FROM orders WHERE id = $1")
                        .bind(&order.order_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                tx.commit().await?;
                match owner {
                    Some((Some(run), payment)) if run == order.run_id && payment == order.payment_id => {
                        Ok(inserted)
                    }
                    Some((run, _)) => Err($crate::store::StoreError::Conflict(format!(
                        "order {} already exists and belongs to workflow run {}; an order id is used once",
                        order.order_id,
                        run.as_deref().unwrap_or("(unknown: recorded before runs were)")
                    ))),
                    // Not inserted and not there: another order took the payment id meanwhile.
                    None => Err($crate::store::StoreError::Conflict(format!(
                        "payment id {} is already used by another order",
                        order.payment_id
                    ))),
                }
            }

            async fn get_order(
                &self,
                order_id: &str,
            ) -> Result<Option<$crate::store::OrderRow>, $crate::store::StoreError> {
                let row = sqlx::query(concat!("SELECT ", order_columns!(), " FROM orders WHERE id = $1"))
                    .bind(order_id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| order_row(&r)).transpose()
            }

            async fn list_orders(
                &self,
                filter: &$crate::store::OrderFilter,
            ) -> Result<Vec<$crate::store::OrderRow>, $crate::store::StoreError> {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    order_columns!(),
                    " FROM orders WHERE ($1 IS NULL OR state = $1)
                      ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
                ))
                .bind(filter.state.map(|s| s.as_str()))
                .bind(i64::from(filter.limit))
                .bind(i64::from(filter.offset))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(order_row).collect()
            }

            async fn transition(
                &self,
                order_id: &str,
                t: &$crate::store::Transition,
            ) -> Result<bool, $crate::store::StoreError> {
                // One statement is atomic on its own: no BEGIN and COMMIT around it (on SQLite each is one more
                // trip to the connection's thread).
                let mut conn = self.pool.acquire().await?;
                apply_transition(&mut *conn, order_id, t).await
            }

            async fn count_by_state(
                &self,
            ) -> Result<Vec<($crate::domain::OrderState, u64)>, $crate::store::StoreError> {
                let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM orders GROUP BY state ORDER BY state")
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| {
                        let state: String = sqlx::Row::try_get(r, "state")?;
                        let n: i64 = sqlx::Row::try_get(r, "n")?;
                        Ok((parse_state(&state)?, n.max(0) as u64))
                    })
                    .collect()
            }

            async fn begin_payment(
                &self,
                payment_id: &str,
                order_id: &str,
                amount_cents: u64,
                plugin_digest: Option<&str>,
            ) -> Result<$crate::store::PaymentRow, $crate::store::StoreError> {
                let now = chrono::Utc::now();
                let inserted = sqlx::query(concat!(
                    "INSERT INTO payments (payment_id, order_id, amount_cents, status, plugin_digest, created_at,
                                           updated_at)
                     VALUES ($1, $2, $3, 'pending', $5, $4, $4)
                     ON CONFLICT (payment_id) DO NOTHING RETURNING ",
                    payment_columns!()
                ))
                .bind(payment_id)
                .bind(order_id)
                .bind(cents(amount_cents)?)
                .bind(now)
                .bind(plugin_digest)
                .fetch_optional(&self.pool)
                .await?;
                if let Some(row) = inserted {
                    // New, for this order: nothing more to check.
                    return payment_row(&row);
                }
                // A pending payment recorded before versions were: bound to this attempt's version from now on.
                sqlx::query(
                    "UPDATE payments SET plugin_digest = $3
                     WHERE payment_id = $1 AND order_id = $2 AND status = 'pending' AND plugin_digest IS NULL",
                )
                .bind(payment_id)
                .bind(order_id)
                .bind(plugin_digest)
                .execute(&self.pool)
                .await?;
                let row = self.get_payment(payment_id).await?.ok_or_else(|| {
                    $crate::store::StoreError::Corrupt(format!("payment {payment_id} vanished after insert"))
                })?;
                if row.order_id != order_id {
                    return Err($crate::store::StoreError::Conflict(format!(
                        "payment id {payment_id} already belongs to order {}",
                        row.order_id
                    )));
                }
                Ok(row)
            }

            async fn complete_charge(
                &self,
                payment_id: &str,
                transaction_id: &str,
                order: Option<(&str, &$crate::store::Transition)>,
            ) -> Result<$crate::store::PaymentRow, $crate::store::StoreError> {
                let nothing = $crate::store::Transition::default();
                let (order_id, t) = match order {
                    Some((order_id, t)) => (Some(order_id), t),
                    None => (None, &nothing),
                };
                let row = bind_transition(sqlx::query(Self::COMPLETE_CHARGE), order_id, t)?
                    .bind(payment_id)
                    .bind(transaction_id)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or_else(|| $crate::store::StoreError::Conflict(format!("no payment {payment_id}")))?;
                let payment = payment_row(&row)?;
                if payment.status == $crate::domain::PaymentState::Charged {
                    return Ok(payment);
                }
                // Not charged by this call: PostgreSQL read the row from the statement's snapshot, which a charge
                // committed meanwhile (an overlapping attempt) is not in. Read it as it is now.
                Ok(self.get_payment(payment_id).await?.unwrap_or(payment))
            }

            async fn decline_payment(
                &self,
                payment_id: &str,
            ) -> Result<$crate::store::PaymentRow, $crate::store::StoreError> {
                self.set_payment_status(payment_id, "declined", "pending").await
            }

            async fn refund_payment(
                &self,
                payment_id: &str,
                refund_id: &str,
            ) -> Result<$crate::store::PaymentRow, $crate::store::StoreError> {
                // From `charged`, or from `pending` when a charge's outcome was unknown and the processor refunded it.
                let refunded = sqlx::query(concat!(
                    "UPDATE payments SET status = 'refunded', refund_id = $2, updated_at = $3
                     WHERE payment_id = $1 AND status IN ('charged', 'pending') RETURNING ",
                    payment_columns!()
                ))
                .bind(payment_id)
                .bind(refund_id)
                .bind(chrono::Utc::now())
                .fetch_optional(&self.pool)
                .await?;
                self.payment_as_updated(payment_id, refunded).await
            }

            async fn get_payment(
                &self,
                payment_id: &str,
            ) -> Result<Option<$crate::store::PaymentRow>, $crate::store::StoreError> {
                let row = sqlx::query(concat!("SELECT ", payment_columns!(), " FROM payments WHERE payment_id = $1"))
                    .bind(payment_id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| payment_row(&r)).transpose()
            }

            async fn payments_for_order(
                &self,
                order_id: &str,
            ) -> Result<Vec<$crate::store::PaymentRow>, $crate::store::StoreError> {
                read_payments(&self.pool, order_id).await
            }

            async fn claim_shipment(
                &self,
                c: &$crate::store::ShipmentClaim,
            ) -> Result<$crate::store::ShipmentClaim, $crate::store::StoreError> {
                let inserted = sqlx::query(
                    "INSERT INTO shipment_claims (order_id, shipment, claim, address_json, package_json, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (order_id, shipment) DO NOTHING",
                )
                .bind(&c.order_id)
                .bind(i64::from(c.shipment))
                .bind(if c.stop { "stop" } else { "dispatch" })
                .bind(sqlx::types::Json(&c.address))
                .bind(c.package.as_ref().map(sqlx::types::Json))
                .bind(chrono::Utc::now())
                .execute(&self.pool)
                .await?;
                if inserted.rows_affected() == 1 {
                    return Ok(c.clone());
                }
                // Claimed before: that claim holds, whatever this one asked.
                let row = sqlx::query(
                    "SELECT claim, address_json, package_json FROM shipment_claims
                     WHERE order_id = $1 AND shipment = $2",
                )
                .bind(&c.order_id)
                .bind(i64::from(c.shipment))
                .fetch_one(&self.pool)
                .await?;
                let claim: String = sqlx::Row::try_get(&row, "claim")?;
                let address: sqlx::types::Json<$crate::domain::Address> = sqlx::Row::try_get(&row, "address_json")?;
                let package: Option<sqlx::types::Json<serde_json::Value>> = sqlx::Row::try_get(&row, "package_json")?;
                Ok($crate::store::ShipmentClaim {
                    order_id: c.order_id.clone(),
                    shipment: c.shipment,
                    stop: claim == "stop",
                    address: address.0,
                    package: package.map(|p| p.0),
                })
            }

            async fn append_event(&self, e: &$crate::store::NewEvent) -> Result<i64, $crate::store::StoreError> {
                let query = sqlx::query(concat!(
                    "INSERT INTO events (",
                    $crate::store::rows::event_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id"
                ))
                .bind(&e.order_id);
                let row = bind_event(query, e).fetch_one(&self.pool).await?;
                Ok(sqlx::Row::try_get(&row, "id")?)
            }

            async fn transition_with_event(
                &self,
                order_id: &str,
                t: &$crate::store::Transition,
                event: &$crate::store::NewEvent,
            ) -> Result<bool, $crate::store::StoreError> {
                debug_assert_eq!(event.order_id, order_id, "an order's event");
                let query = bind_transition(sqlx::query(Self::TRANSITION_WITH_EVENT), Some(order_id), t)?;
                let done = bind_event(query, event).execute(&self.pool).await?;
                Ok(done.rows_affected() > 0)
            }

            async fn events(
                &self,
                order_id: &str,
                limit: u32,
            ) -> Result<Vec<$crate::store::EventRow>, $crate::store::StoreError> {
                read_events(&self.pool, order_id, limit).await
            }

            async fn completed_details(
                &self,
                order_id: &str,
                activity: &str,
                limit: u32,
            ) -> Result<Vec<serde_json::Value>, $crate::store::StoreError> {
                let rows: Vec<(sqlx::types::Json<serde_json::Value>,)> = sqlx::query_as(
                    "SELECT payload_json FROM events
                     WHERE order_id = $1 AND activity = $2 AND outcome = 'completed' AND payload_json IS NOT NULL
                     ORDER BY id DESC LIMIT $3",
                )
                .bind(order_id)
                .bind(activity)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(|(details,)| details.0).collect())
            }

            async fn event_summary(
                &self,
                order_id: &str,
                recent: u32,
            ) -> Result<$crate::store::EventSummary, $crate::store::StoreError> {
                read_event_summary(&self.pool, order_id, recent).await
            }

            async fn plugin_runs(
                &self,
                order_id: &str,
            ) -> Result<Vec<$crate::store::DigestRun>, $crate::store::StoreError> {
                read_plugin_runs(&self.pool, order_id).await
            }

            async fn last_errors(
                &self,
                order_ids: &[String],
            ) -> Result<Vec<(String, String)>, $crate::store::StoreError> {
                read_last_errors(&self.pool, order_ids).await
            }

            async fn recent_failures(
                &self,
                limit: u32,
            ) -> Result<Vec<$crate::store::EventRow>, $crate::store::StoreError> {
                read_recent_failures(&self.pool, limit).await
            }

            async fn count_created_since(
                &self,
                since: chrono::DateTime<chrono::Utc>,
            ) -> Result<u64, $crate::store::StoreError> {
                read_created_since(&self.pool, since).await
            }

            async fn count_needing_attention(&self) -> Result<u64, $crate::store::StoreError> {
                let n: i64 =
                    sqlx::query_scalar("SELECT COUNT(DISTINCT order_id) FROM events WHERE event_type = 'attention'")
                        .fetch_one(&self.pool)
                        .await?;
                Ok(n.max(0) as u64)
            }

            async fn needing_attention(&self, limit: u32) -> Result<Vec<(String, String)>, $crate::store::StoreError> {
                read_needing_attention(&self.pool, limit).await
            }

            async fn audit_page(
                &self,
                after: Option<&str>,
                limit: u32,
            ) -> Result<Vec<($crate::store::OrderRow, Vec<$crate::store::PaymentRow>)>, $crate::store::StoreError> {
                read_audit_page(&self.pool, after, limit).await
            }

            async fn record_plugin_version(
                &self,
                v: &$crate::store::PluginVersionRow,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query(
                    "INSERT INTO plugin_versions (slot, digest, name, version, source, size_bytes, activation, host,
                                                  loaded_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&v.slot)
                .bind(&v.digest)
                .bind(&v.name)
                .bind(&v.version)
                .bind(&v.source)
                .bind(cents(v.size_bytes)?)
                .bind(&v.activation)
                .bind(&v.host)
                .bind(v.loaded_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn plugin_versions(
                &self,
                slot: Option<&str>,
                limit: u32,
            ) -> Result<Vec<$crate::store::PluginVersionRow>, $crate::store::StoreError> {
                let rows = sqlx::query(
                    "SELECT slot, digest, name, version, source, size_bytes, activation, host, loaded_at
                     FROM plugin_versions WHERE ($1 IS NULL OR slot = $1) ORDER BY id DESC LIMIT $2",
                )
                .bind(slot)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        use sqlx::Row as _;
                        let size: i64 = r.try_get("size_bytes")?;
                        Ok($crate::store::PluginVersionRow {
                            slot: r.try_get("slot")?,
                            digest: r.try_get("digest")?,
                            name: r.try_get("name")?,
                            version: r.try_get("version")?,
                            source: r.try_get("source")?,
                            size_bytes: size.max(0) as u64,
                            activation: r.try_get("activation")?,
                            host: r.try_get("host")?,
                            loaded_at: r.try_get("loaded_at")?,
                        })
                    })
                    .collect()
            }
        }

        impl $store {
            /// Inserts `order` as `received` unless its id is taken or another order holds its payment id (rows from
            /// before owners included). Whether it was inserted.
            async fn insert_new_order<'c>(
                executor: impl sqlx::Executor<'c, Database = $db>,
                order: &$crate::store::NewOrder,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::store::StoreError> {
                let done = sqlx::query(
                    "INSERT INTO orders (id, payment_id, run_id, state, state_seq, step, items_json, address_json,
                                         created_at, updated_at)
                     SELECT $1, $2, $3, $4, 1, 'receive_order', $5, $6, $7, $7
                     WHERE NOT EXISTS (SELECT 1 FROM orders WHERE payment_id = $2)
                     ON CONFLICT DO NOTHING",
                )
                .bind(&order.order_id)
                .bind(&order.payment_id)
                .bind(&order.run_id)
                .bind($crate::domain::OrderState::Received.as_str())
                .bind(sqlx::types::Json(&order.items))
                .bind(sqlx::types::Json(&order.address))
                .bind(now)
                .execute(executor)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_payment_status(
                &self,
                payment_id: &str,
                status: &str,
                from: &str,
            ) -> Result<$crate::store::PaymentRow, $crate::store::StoreError> {
                let updated = sqlx::query(concat!(
                    "UPDATE payments SET status = $2, updated_at = $3 WHERE payment_id = $1 AND status = $4 RETURNING ",
                    payment_columns!()
                ))
                .bind(payment_id)
                .bind(status)
                .bind(chrono::Utc::now())
                .bind(from)
                .fetch_optional(&self.pool)
                .await?;
                self.payment_as_updated(payment_id, updated).await
            }

            /// The payment an update returned, or, when it changed nothing, the row as it stands.
            async fn payment_as_updated(
                &self,
                payment_id: &str,
                updated: Option<<$db as sqlx::Database>::Row>,
            ) -> Result<$crate::store::PaymentRow, $crate::store::StoreError> {
                match updated {
                    Some(row) => payment_row(&row),
                    None => $crate::store::Store::get_payment(self, payment_id)
                        .await?
                        .ok_or_else(|| $crate::store::StoreError::Conflict(format!("no payment {payment_id}"))),
                }
            }
        }

        $crate::store::rows::impl_sql_rows!($db);
        $crate::store::reads::impl_sql_reads!($db);
    };
}

macro_rules! order_columns {
    () => {
        "id, payment_id, run_id, state, step, items_json, address_json, total_cents, package_id, carrier, tracking, \
         created_at, updated_at"
    };
}

macro_rules! payment_columns {
    () => {
        "payment_id, order_id, amount_cents, status, transaction_id, refund_id, plugin_digest, created_at, updated_at"
    };
}

pub(crate) use {impl_sql_store, order_columns, payment_columns};
