"""The labelops demo: the whole labeling workflow end to end on a real dataset."""
