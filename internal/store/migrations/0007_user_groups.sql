-- Call and pickup groups of SIP users (pjsip.conf call_group,
-- pickup_group, named_call_group, named_pickup_group): a phone picks up
-- (*8, Pickup()) a ringing call of a user whose call group is one of its
-- pickup groups. Numbers as "1,3-5", names as "sales,support".
ALTER TABLE sip_users ADD COLUMN call_group TEXT NOT NULL DEFAULT '';
ALTER TABLE sip_users ADD COLUMN pickup_group TEXT NOT NULL DEFAULT '';
ALTER TABLE sip_users ADD COLUMN named_call_group TEXT NOT NULL DEFAULT '';
ALTER TABLE sip_users ADD COLUMN named_pickup_group TEXT NOT NULL DEFAULT '';
