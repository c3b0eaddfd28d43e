-- Issue 18: the geometry kind of the labels that gave an accepted item its class
-- ("whole_item", "box", "polygon", ...; '' = accepted before this column: unknown). Built-in
-- models propose whole-item classes only; a class whose accepted labels are all geometries
-- gets no built-in pre-label, and the model says so ("no pre-label model for boxes").
ALTER TABLE labels ADD COLUMN IF NOT EXISTS geometry text NOT NULL DEFAULT '';
