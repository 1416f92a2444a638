"""Reward models r(observation, action) learned from each feedback kind, and their training."""
