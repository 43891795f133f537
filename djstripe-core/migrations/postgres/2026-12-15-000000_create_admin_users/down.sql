DROP TABLE djstripe_admin_user;
