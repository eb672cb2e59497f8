-- Check-ins (storage/checkins.py) look for quiet contacts of the tiers that have an interval,
-- on every runner pass: find them by tier without scanning every contact.
CREATE INDEX contacts_tier ON contacts(tier, id);
