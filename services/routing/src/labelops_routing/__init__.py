"""labelops routing service: task routing to labeling pools, overlap, gold slots and leases."""
