-- Who holds a shipment: its dispatch (the parcel may be with the carrier, so a stop or an address change that comes
-- later is refused) or its stop (it never goes). The first claim holds for good: a workflow task run again, or a
-- worker cut off but still running, can no longer both stop a shipment and dispatch it.
CREATE TABLE shipment_claims (
    order_id      TEXT NOT NULL,
    shipment      INTEGER NOT NULL,
    -- 'dispatch' or 'stop'
    claim         TEXT NOT NULL,
    -- where the parcel goes, and the parcel (a dispatch claim)
    address_json  TEXT NOT NULL,
    package_json  TEXT,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (order_id, shipment)
);
