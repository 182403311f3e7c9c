-- Customers of the demo shop.
CREATE SCHEMA IF NOT EXISTS app;

CREATE TABLE app.customers (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email      text        NOT NULL UNIQUE,
  name       text        NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
