-- mostrod-ts: a change to a status with no public event of its own keeps the order's lagging public
-- change in the change log (migration 20261204000000).
--
-- active, fiat-sent, settled-hold-invoice and dispute publish no kind-38383 event: the book keeps
-- showing the order's last public status (`in-progress`, from the take). Before this migration such
-- a change replaced the order's row in the log, and the publisher cleared that row at once ("nothing
-- to publish"): if the take's `in-progress` event had not reached a relay yet (a process that stopped
-- before a relay answered, relays that refused it through every retry), nothing published it again,
-- and the public book showed the order as `pending`, open to be taken, for the whole trade
-- (simulation finding F15, docs/SIMULATION.md). Now such a change only writes a row when the order
-- has none; a lagging public change stays, and the republish job publishes the order's public view
-- for it (`in-progress`).
-- Public statuses (a row for them replaces any other, as before): pending, waiting-buyer-invoice,
-- waiting-payment, canceled, canceled-by-admin, cooperatively-canceled, expired, success,
-- completed-by-admin (app/flows/publish.ts orderPublicStatus).

DROP TRIGGER IF EXISTS mostrod_ts_order_changes_on_status;

CREATE TRIGGER mostrod_ts_order_changes_on_status AFTER UPDATE OF status ON orders
WHEN NEW.status IS NOT OLD.status
BEGIN
    INSERT OR REPLACE INTO mostrod_ts_order_changes (order_id, status)
    SELECT NEW.id, NEW.status
    WHERE NEW.status IN ('pending', 'waiting-buyer-invoice', 'waiting-payment', 'canceled', 'canceled-by-admin',
                         'cooperatively-canceled', 'expired', 'success', 'completed-by-admin')
       OR NOT EXISTS (SELECT 1 FROM mostrod_ts_order_changes WHERE order_id = NEW.id);
END;
