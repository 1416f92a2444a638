"""PPO agents (stable-baselines3) on the task's reward or on a learned one, and their evaluation."""
