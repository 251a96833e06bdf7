-- Every instance caches the ids it looked up in vain for a moment. When an order commits through one instance,
-- the others hear of it here and forget those ids: NOTIFY is delivered to listeners only when the inserting
-- transaction commits, and only for the rows it really inserted (the transition table leaves out conflicts).
-- One notification per statement and per 100 ids (at most 6,500 bytes: ids are 1-64 characters, under
-- PostgreSQL's 8,000-byte payload limit), so a batch of 500 costs five notifications, not 500.
CREATE FUNCTION notify_orders_committed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ids text;
BEGIN
  FOR ids IN
    SELECT string_agg(order_uid, ',')
    FROM (SELECT order_uid, (row_number() OVER () - 1) / 100 AS part FROM inserted) AS numbered
    GROUP BY part
  LOOP
    PERFORM pg_notify('orders_committed', ids);
  END LOOP;
  RETURN NULL;
END
$$;

CREATE TRIGGER orders_committed
  AFTER INSERT ON orders
  REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT
  EXECUTE FUNCTION notify_orders_committed();
