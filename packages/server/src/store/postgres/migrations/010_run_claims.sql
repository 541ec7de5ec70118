-- Which of its node's claims took a run. A claim whose answer is lost (the connection dropped
-- as it committed) leaves runs `running` on a live node that never heard of them: the node
-- finds them by this number and starts them, rather than leaving them to end as orphans.
ALTER TABLE runs ADD COLUMN claim_number INTEGER;
