DROP TABLE app.orders;
