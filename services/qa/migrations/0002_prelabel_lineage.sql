-- The model version whose pre-labels the task's annotators were shown (routing's
-- LabelSubmitted.prelabel_model / prelabel_model_version; the latest non-empty one wins), for
-- the lineage of the accepted label.
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS prelabel_model text NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS prelabel_model_version text NOT NULL DEFAULT '';

-- The labels of the task's last LabelAccepted (the consensus, or a reviewer's fix): what
-- label-issue detection judges.
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS accepted_labels bytea;
