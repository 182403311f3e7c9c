-- Orders reference their customer; amounts in cents.
CREATE TABLE app.orders (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id  bigint      NOT NULL REFERENCES app.customers (id),
  amount_cents bigint      NOT NULL CHECK (amount_cents >= 0),
  created_at   timestamptz NOT NULL DEFAULT now()
);
