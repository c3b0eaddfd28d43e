"""Pure pre-labeling math: uncertainty scores, diverse batch selection, queue priorities."""
