DROP TABLE shop_customer_event;
