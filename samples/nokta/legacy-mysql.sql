-- Legacy Nokta schema (MySQL / MariaDB). Times are DATETIME in the stores' local time (+03:00).
CREATE TABLE pos_orders (
  id BIGINT NOT NULL PRIMARY KEY,
  tenant_id INT NOT NULL,
  order_no VARCHAR(32) NOT NULL,
  customer_id BIGINT NULL,
  status VARCHAR(16) NOT NULL,
  subtotal DECIMAL(12,2) NOT NULL,
  tax DECIMAL(12,2) NOT NULL,
  discount DECIMAL(12,2) NOT NULL,
  total DECIMAL(12,2) NOT NULL,
  payment_ref VARCHAR(64) NULL,
  payment_method VARCHAR(16) NOT NULL,
  created_at DATETIME NOT NULL,
  currency CHAR(3) NOT NULL DEFAULT 'TRY',
  delivery_fee DECIMAL(12,2) NOT NULL DEFAULT 0.00,
  updated_at DATETIME NULL,
  KEY pos_orders_tenant (tenant_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE customers (
  id BIGINT NOT NULL PRIMARY KEY,
  tenant_id INT NOT NULL,
  name VARCHAR(80) NOT NULL,
  email VARCHAR(120) NULL,
  address_line VARCHAR(160) NULL,
  city VARCHAR(60) NULL,
  loyalty_points INT NOT NULL,
  loyalty_balance DECIMAL(12,2) NOT NULL,
  created_at DATETIME NOT NULL,
  KEY customers_tenant (tenant_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE drivers (
  id BIGINT NOT NULL PRIMARY KEY,
  tenant_id INT NOT NULL,
  name VARCHAR(80) NOT NULL,
  phone VARCHAR(20) NULL,
  tasks_completed INT NOT NULL,
  route_km DECIMAL(10,2) NOT NULL,
  settlement_amount DECIMAL(12,2) NOT NULL,
  settled_at DATETIME NULL,
  KEY drivers_tenant (tenant_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE call_logs (
  id BIGINT NOT NULL PRIMARY KEY,
  tenant_id INT NOT NULL,
  caller_phone VARCHAR(20) NOT NULL,
  agent VARCHAR(40) NULL,
  queue_name VARCHAR(40) NOT NULL,
  wait_seconds INT NOT NULL,
  duration_seconds INT NOT NULL,
  outcome VARCHAR(16) NOT NULL,
  started_at DATETIME NOT NULL,
  KEY call_logs_tenant (tenant_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE invoices (
  id BIGINT NOT NULL PRIMARY KEY,
  tenant_id INT NOT NULL,
  invoice_no VARCHAR(32) NOT NULL,
  amount DECIMAL(12,2) NOT NULL,
  tax DECIMAL(12,2) NOT NULL,
  discount DECIMAL(12,2) NOT NULL,
  paid_amount DECIMAL(12,2) NOT NULL,
  payment_channel VARCHAR(16) NOT NULL,
  plan_code VARCHAR(16) NOT NULL,
  quota_used INT NOT NULL,
  issued_at DATETIME NOT NULL,
  KEY invoices_tenant (tenant_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
