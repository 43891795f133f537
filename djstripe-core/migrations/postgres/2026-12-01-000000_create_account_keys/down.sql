DROP TABLE djstripe_account_key;
