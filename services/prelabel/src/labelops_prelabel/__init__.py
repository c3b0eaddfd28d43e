"""labelops pre-labeling service: model predictions as prelabels, active-learning priorities."""
