"""Scripted critics of every feedback kind, teacher noise and the annotation cost model."""

from nlfeedback.critics.critique import CritiqueStats, critique
from nlfeedback.critics.noise import TeacherNoise, parse_noise

__all__ = ["CritiqueStats", "TeacherNoise", "critique", "parse_noise"]
