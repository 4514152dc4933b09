-- New Nokta schema (PostgreSQL), normalized as the migration plan's data mapping says.
-- Times are timestamptz (UTC instants); some money columns keep more scale than legacy.
CREATE TABLE orders (
  id BIGINT PRIMARY KEY,
  tenant_id INT NOT NULL,
  order_no VARCHAR(32) NOT NULL,
  customer_id BIGINT,
  status VARCHAR(16) NOT NULL,
  subtotal NUMERIC(14,2) NOT NULL,
  tax NUMERIC(14,2) NOT NULL,
  discount NUMERIC(14,2) NOT NULL,
  total NUMERIC(14,3) NOT NULL,
  created_at TIMESTAMPTZ NOT NULL,
  currency VARCHAR(3) NOT NULL DEFAULT 'TRY',
  delivery_fee NUMERIC(14,2) NOT NULL DEFAULT 0,
  updated_at TIMESTAMPTZ
);
CREATE INDEX orders_tenant ON orders (tenant_id, id);

CREATE TABLE order_items (
  id BIGINT PRIMARY KEY,
  order_id BIGINT NOT NULL,
  tenant_id INT NOT NULL,
  sku VARCHAR(32) NOT NULL,
  quantity INT NOT NULL,
  amount NUMERIC(14,2) NOT NULL
);
CREATE INDEX order_items_tenant ON order_items (tenant_id, order_id);

CREATE TABLE order_payments (
  id BIGINT PRIMARY KEY,
  order_id BIGINT NOT NULL,
  tenant_id INT NOT NULL,
  gateway_ref VARCHAR(64),
  method VARCHAR(16) NOT NULL,
  amount NUMERIC(14,2) NOT NULL
);
CREATE UNIQUE INDEX order_payments_order ON order_payments (order_id);

CREATE TABLE customers (
  id BIGINT PRIMARY KEY,
  tenant_id INT NOT NULL,
  name VARCHAR(80) NOT NULL,
  email VARCHAR(120),
  created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX customers_tenant ON customers (tenant_id, id);

CREATE TABLE customer_addresses (
  id BIGINT PRIMARY KEY,
  customer_id BIGINT NOT NULL,
  tenant_id INT NOT NULL,
  line1 VARCHAR(160),
  city VARCHAR(60),
  is_primary BOOLEAN NOT NULL
);
CREATE INDEX customer_addresses_customer ON customer_addresses (customer_id);

CREATE TABLE customer_loyalty_balances (
  customer_id BIGINT PRIMARY KEY,
  tenant_id INT NOT NULL,
  points INT NOT NULL,
  balance NUMERIC(14,2) NOT NULL
);

CREATE TABLE drivers (
  id BIGINT PRIMARY KEY,
  tenant_id INT NOT NULL,
  name VARCHAR(80) NOT NULL,
  phone VARCHAR(20)
);
CREATE INDEX drivers_tenant ON drivers (tenant_id, id);

CREATE TABLE driver_tasks (
  id BIGINT PRIMARY KEY,
  driver_id BIGINT NOT NULL,
  tenant_id INT NOT NULL,
  status VARCHAR(16) NOT NULL
);
CREATE INDEX driver_tasks_driver ON driver_tasks (driver_id);

CREATE TABLE driver_routes (
  id BIGINT PRIMARY KEY,
  driver_id BIGINT NOT NULL,
  tenant_id INT NOT NULL,
  km NUMERIC(10,2) NOT NULL
);
CREATE INDEX driver_routes_driver ON driver_routes (driver_id);

CREATE TABLE driver_settlements (
  id BIGINT PRIMARY KEY,
  driver_id BIGINT NOT NULL,
  tenant_id INT NOT NULL,
  amount NUMERIC(14,2) NOT NULL,
  settled_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX driver_settlements_driver ON driver_settlements (driver_id);

CREATE TABLE call_center_calls (
  id BIGINT PRIMARY KEY,
  tenant_id INT NOT NULL,
  caller_phone VARCHAR(20) NOT NULL,
  agent VARCHAR(40),
  duration_seconds INT NOT NULL,
  outcome VARCHAR(16) NOT NULL,
  started_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX call_center_calls_tenant ON call_center_calls (tenant_id, id);

CREATE TABLE call_queue_events (
  id BIGINT PRIMARY KEY,
  call_id BIGINT NOT NULL,
  tenant_id INT NOT NULL,
  queue_name VARCHAR(40) NOT NULL,
  wait_seconds INT NOT NULL
);
CREATE UNIQUE INDEX call_queue_events_call ON call_queue_events (call_id);

CREATE TABLE billing_invoices (
  id BIGINT PRIMARY KEY,
  tenant_id INT NOT NULL,
  invoice_no VARCHAR(32) NOT NULL,
  amount NUMERIC(14,2) NOT NULL,
  tax NUMERIC(14,2) NOT NULL,
  discount NUMERIC(14,2) NOT NULL,
  issued_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX billing_invoices_tenant ON billing_invoices (tenant_id, id);

CREATE TABLE billing_payments (
  id BIGINT PRIMARY KEY,
  invoice_id BIGINT NOT NULL,
  tenant_id INT NOT NULL,
  channel VARCHAR(16) NOT NULL,
  amount NUMERIC(14,2) NOT NULL
);
CREATE UNIQUE INDEX billing_payments_invoice ON billing_payments (invoice_id);

CREATE TABLE billing_plan_quotas (
  id BIGINT PRIMARY KEY,
  invoice_id BIGINT NOT NULL,
  tenant_id INT NOT NULL,
  plan_code VARCHAR(16) NOT NULL,
  quota_used INT NOT NULL
);
CREATE UNIQUE INDEX billing_plan_quotas_invoice ON billing_plan_quotas (invoice_id);
