-- Which model made a task's pre-labels (from labelops.prelabel.events.v1 PreLabelProposed;
-- '' when the pre-labels came without a model, through CreateTasks / UpdateTaskSignals).
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS prelabel_model text NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS prelabel_model_version text NOT NULL DEFAULT '';

-- The model whose pre-labels an offer showed, recorded when the lease is made: LabelSubmitted
-- credits the label to what the annotator saw, even if newer pre-labels (or a project that
-- switched pre-labels off) arrive while the task is leased.
ALTER TABLE assignments ADD COLUMN IF NOT EXISTS prelabel_model text NOT NULL DEFAULT '';
ALTER TABLE assignments ADD COLUMN IF NOT EXISTS prelabel_model_version text NOT NULL DEFAULT '';
