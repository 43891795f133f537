CREATE TABLE clash (id TEXT);
