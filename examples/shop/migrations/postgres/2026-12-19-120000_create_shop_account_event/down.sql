DROP TABLE shop_account_event;
