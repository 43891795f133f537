DROP TABLE djstripe_admin_session;
