-- order-host's own database and role, beside Temporal's (order-host migrates its schema at start-up).
CREATE ROLE orders LOGIN PASSWORD 'orders';
CREATE DATABASE orders OWNER orders;
