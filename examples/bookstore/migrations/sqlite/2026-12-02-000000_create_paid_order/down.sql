DROP TABLE paid_order;
